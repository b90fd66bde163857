"""``swipeguard scenario generate`` and ``show``."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from swipeguard.cli import main


def test_generate_writes_footage_and_timeline(
    samples: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "till1"

    code = main(["scenario", "generate", "--photos", str(samples / "faces" / "lfw"),
                 "--out", str(out), "--duration", "16", "--people", "3", "--seed", "2",
                 "--size", "352x288", "--bitrate", "384000", "--passers", "10"])

    printed = capsys.readouterr().out
    timeline = json.loads((out / "timeline.json").read_text())
    assert code == 0
    assert timeline["size"] == [352, 288] and timeline["frames"] == 240
    assert timeline["visits"] and timeline["swipes"]
    assert f"visits: {len(timeline['visits'])}," in printed
    for visit in timeline["visits"]:
        assert visit["person"] not in printed  # names stay in the timeline file
    with av.open(str(out / "footage.mp4")) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (352, 288)


def test_generate_refuses_to_replace_footage(
    samples: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "footage.mp4").write_bytes(b"earlier footage")

    code = main(["scenario", "generate", "--photos", str(samples / "faces" / "examples"),
                 "--out", str(tmp_path), "--duration", "2", "--misuse", "0"])

    assert code == 2
    assert "overwrite" in caplog.text
    assert (tmp_path / "footage.mp4").read_bytes() == b"earlier footage"


def test_show_reports_a_missing_timeline(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert main(["scenario", "show", str(tmp_path)]) == 2
    assert "timeline not found" in caplog.text


def test_size_must_be_width_by_height(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["scenario", "generate", "--photos", ".", "--out", ".", "--size", "720p"])
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
