"""The demo on a small city: the video case comes out as stated and the rates hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from swipeguard.cardholders import service as cardholders
from swipeguard.cli import main
from swipeguard.db import Database


def test_a_small_demo_catches_misuse_spares_holders_and_gets_the_video_case_right(
    samples: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["demo", "--no-serve", "--json", "--people", "6", "--samples", str(samples),
                 "--data-dir", str(tmp_path / "demo")])

    summary = json.loads(capsys.readouterr().out)
    video = summary["video_case"]
    assert code == 0
    assert video["video_holder"]["verdict"] == "verified"
    assert video["video_holder"]["alarms"] == []
    assert video["video_other_card"]["verdict"] == "mismatch"
    assert video["video_other_card"]["alarms"] == ["mismatch"]
    assert {"someone_else", "no_face", "lost_card", "genuine"} <= set(summary["truth"])
    assert summary["misuse"]["share_caught"] >= 0.95
    assert summary["genuine"]["share_falsely_alarmed"] <= 0.05
    assert summary["verdicts"].get("pending", 0) == 0
    # Lost-card alarms: the cards lost before the day, and the story's card reported
    # lost after its swipes (they keep their mismatch alarms too).
    assert summary["alarms"]["lost_card"] == (summary["truth"]["lost_card"]["card_lost"]
                                              + summary["lost_card_story"]["flagged_swipes"])
    assert len(summary["console"]["password"]) >= 10 and summary["tills"][0]["api_key"]
    assert_every_swipe_has_a_recorded_clip_with_sound(summary)
    assert_the_investigation_names_who_used_the_lost_card(summary["lost_card_story"])


def assert_the_investigation_names_who_used_the_lost_card(told: dict[str, Any]) -> None:
    first = told["first_suspect"]
    assert told["flagged_swipes"] == told["used_by_finder"] == 3
    assert len(told["facilities"]) == 3
    assert first["rank"] == 1 and first["lost_card_swipes"] == 3
    assert first["identified_as_card_holder"] == told["finder_card_holder"]
    assert first["distance"] <= 0.6
    assert len(first["other_cards"]) == 2  # the finder's own and the other holder's
    assert told["grouped_with_other_card"] and told["as_expected"]


def assert_every_swipe_has_a_recorded_clip_with_sound(summary: dict[str, Any]) -> None:
    footage = summary["footage"]
    assert set(footage) == {"sample_clip", "generated", "talking_head"}
    assert len(footage["generated"]["tills"]) == 2 and footage["generated"]["swipes"] >= 6
    assert all(t["camera"] for t in summary["tills"])
    assert summary["clips"] == {"swipes": summary["swipes"], "with_clip": summary["swipes"],
                                "with_sound": summary["swipes"]}
    # Generated tills send no still: their verdicts come from the recorded footage.
    filmed = sum(n for kind, v in summary["truth"].items() if kind.startswith("footage_")
                 for n in v.values())
    assert filmed == footage["generated"]["swipes"]
    verified = summary["video_verified"]
    assert verified["swipes"] == filmed + 2 and verified["decided"] == verified["swipes"]
    assert summary["truth"]["footage_holder"].get("verified", 0) >= 1


def test_the_demo_refuses_a_database_in_use(
    samples: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "used"
    db = Database(f"sqlite:///{data_dir / 'swipeguard.db'}")
    db.migrate()
    with db.transaction() as s:
        cardholders.create(s, card_no="123456789012", national_id="X1234", name="Someone",
                           secret="k")
    db.dispose()

    code = main(["demo", "--no-serve", "--people", "4", "--samples", str(samples),
                 "--data-dir", str(data_dir)])

    assert code == 2
    assert capsys.readouterr().out == ""
