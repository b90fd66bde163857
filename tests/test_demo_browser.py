"""The demo in Debian's chromium: every alarm of a small demo day opens with its faces and a
recorded clip that plays with sound."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from api_support import LiveServer
from swipeguard.api.app import create_app
from swipeguard.cardholders.models import CardHolder
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.demo import flows

CHROMIUM = Path("/usr/bin/chromium")
# The clip window is 15 s either side of the swipe; a clip starts on the keyframe before.
CLIP_AT_LEAST_S = 20.0

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


@dataclass(frozen=True)
class Demo:
    url: str
    user: str
    password: str
    summary: dict[str, Any]
    finder: str  # the name of who used the lost card in the demo's story


@pytest.fixture(scope="module")
def demo(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The smallest demo day, served on a free loopback port."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("demo"), secret_key="test-secret")
    db = Database(settings.resolved_database_url)
    db.migrate()
    summary = flows.run(settings, db, samples_dir=samples, people=4, seed=7)
    console = summary["console"]
    with db.sessions() as session:
        finder = session.get(CardHolder, summary["lost_card_story"]["finder_card_holder"])
        assert finder is not None
        name = finder.name
    with LiveServer(create_app(settings, db)) as server:
        yield Demo(server.url, console["user"], console["password"], summary, name)
    db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync",
            "--autoplay-policy=no-user-gesture-required",
        ])
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, demo: Demo) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=demo.url)
    yield context.new_page()
    context.close()


def sign_in(page: Page, demo: Demo) -> None:
    page.goto("/console/alarms")
    page.fill("#username", demo.user)
    page.fill("#password", demo.password)
    page.click("button[type=submit]")
    expect(page).to_have_url("/console/alarms")


def image_widths(page: Page) -> dict[str, int]:
    """Decoded widths of the detail's two faces (0 if not loaded, absent if not shown)."""
    deadline = time.monotonic() + 10
    while True:
        widths: dict[str, int] = page.evaluate("""() => Object.fromEntries(
            [...document.querySelectorAll('#detail .faces img')].map(
                i => [i.dataset.field, i.complete ? i.naturalWidth : 0]))""")
        if (widths and all(widths.values())) or time.monotonic() > deadline:
            return widths
        time.sleep(0.1)


def play_muted(page: Page) -> dict[str, float]:
    """Plays the detail's clip muted for a moment; what chromium loaded and decoded."""
    return page.evaluate("""async () => {
        const v = document.querySelector('#detail video');
        const deadline = Date.now() + 15000;
        while (v.readyState < 1 && Date.now() < deadline) {
            await new Promise(r => setTimeout(r, 100));
        }
        v.muted = true;
        await v.play();
        while (v.webkitAudioDecodedByteCount === 0 && Date.now() < deadline) {
            await new Promise(r => setTimeout(r, 100));
        }
        v.pause();
        return {readyState: v.readyState, duration: v.duration,
                audioBytes: v.webkitAudioDecodedByteCount,
                videoBytes: v.webkitVideoDecodedByteCount};
    }""")


def clip_streams(page: Page, swipe_id: int) -> tuple[list[str], float]:
    """The clip as the console fetches it (the page's cookie): its stream kinds, duration."""
    response = page.request.get(f"/api/swipes/{swipe_id}/clip")
    assert response.status == 200, response.status
    with av.open(io.BytesIO(response.body())) as container:
        return ([s.type for s in container.streams],
                (container.duration or 0) / av.time_base)


def test_every_demo_alarm_opens_with_faces_and_a_clip_with_sound(page: Page, demo: Demo,
                                                                  ) -> None:
    sign_in(page, demo)
    rows = page.locator(".alarm-row")
    expected = sum(demo.summary["alarms"].values())
    expect(rows).to_have_count(expected)
    ids = [rows.nth(i).get_attribute("data-id") for i in range(expected)]
    assert expected >= 5 and demo.summary["clips"]["with_sound"] == demo.summary["swipes"]

    for alarm_id in ids:
        row = page.locator(f'.alarm-row[data-id="{alarm_id}"]')
        kind = row.get_attribute("data-kind")
        row.click()
        expect(page.locator("#detail h2 small")).to_have_text(f"alarm {alarm_id}")
        widths = image_widths(page)
        if kind == "no_face":
            # Nobody's face was captured: the enrolled photo shows beside a notice.
            assert widths.get("enrolled", 0) > 0, (alarm_id, widths)
            expect(page.locator("#detail .no-image")).to_have_text("No face was captured")
        else:
            assert widths.get("capture", 0) > 0 and widths.get("enrolled", 0) > 0, (
                alarm_id, kind, widths)

        played = play_muted(page)
        assert played["readyState"] >= 1, (alarm_id, played)
        assert played["duration"] > CLIP_AT_LEAST_S, (alarm_id, played)
        assert played["videoBytes"] > 0 and played["audioBytes"] > 0, (alarm_id, played)
        swipe_id = page.evaluate(
            "() => Number(document.querySelector('#detail video').src.split('/').at(-2))")
        kinds, duration = clip_streams(page, swipe_id)
        assert "audio" in kinds and "video" in kinds, (alarm_id, kinds)
        assert duration > CLIP_AT_LEAST_S, (alarm_id, duration)


def test_a_lost_card_alarm_opens_the_investigation_that_names_who_used_the_card(
    page: Page, demo: Demo,
) -> None:
    story = demo.summary["lost_card_story"]
    sign_in(page, demo)
    rows = page.locator('.alarm-row[data-kind="lost_card"]')
    expect(rows.first).to_be_visible()
    link = page.locator('#detail [data-field="investigate"]')
    wanted = {f"/investigate#swipe={i}" for i in story["lost_card_swipe_ids"]}
    for i in range(rows.count()):
        rows.nth(i).click()
        if link.get_attribute("href") in wanted:
            break
    else:
        pytest.fail(f"no lost-card alarm links to the story's swipes {sorted(wanted)}")

    link.click()

    expect(page).to_have_url(re.compile(r"/investigate#swipe=\d+$"))
    first = page.locator("#suspects .suspect h2").first
    expect(first).to_contain_text(f"#1: {demo.finder}", timeout=20_000)
    expect(page.locator("#suspects > p").first).to_contain_text(
        f"{story['used_by_finder']} swipes by someone other than the holder")
    expect(page.locator("#timeline table").first).to_be_visible()
