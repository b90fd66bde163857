"""The console in Debian's chromium: an operator works an alarm; new alarms arrive live."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from api_support import PASSWORD, LiveServer, Place, add_mismatch, add_place, add_user, lfw_pair
from swipeguard.alarms import service as alarms
from swipeguard.alarms.models import AlarmStatus, Resolution
from swipeguard.api.app import create_app
from swipeguard.auth.models import Role
from swipeguard.config import Settings
from swipeguard.db import Database

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync",
        ])
        yield b
        b.close()


@pytest.fixture
def place(sqlite_db: Database) -> Place:
    add_user(sqlite_db, "olga", Role.OPERATOR)
    return add_place(sqlite_db)


@pytest.fixture
def server(settings: Settings, sqlite_db: Database, place: Place) -> Iterator[LiveServer]:
    with LiveServer(create_app(settings, sqlite_db)) as s:
        yield s


@pytest.fixture
def page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800},
                                  base_url=server.url)
    yield context.new_page()
    context.close()


def sign_in(page: Page) -> None:
    page.goto("/console/alarms")
    expect(page).to_have_url("/console/sign-in?next=/console/alarms")
    page.fill("#username", "olga")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url("/console/alarms")
    expect(page.locator("#live")).to_have_text("Live")


def natural_widths(page: Page, selector: str) -> list[int]:
    """Pixel widths of the decoded images (0 for an image that failed to load)."""
    deadline = time.monotonic() + 10
    while True:
        widths: list[int] = page.evaluate(
            "s => [...document.querySelectorAll(s)].map(i => i.complete ? i.naturalWidth : 0)",
            selector)
        if (widths and all(widths)) or time.monotonic() > deadline:
            return widths
        time.sleep(0.1)


def test_an_operator_reviews_a_mismatch_and_closes_it(
    page: Page, sqlite_db: Database, settings: Settings, samples: Path, place: Place,
) -> None:
    enrolled, at_counter = lfw_pair(samples, same=False)
    seeded = add_mismatch(sqlite_db, settings, place, enrolled=enrolled,
                          at_counter=at_counter, card_no="6200001234567890")
    sign_in(page)

    row = page.locator(f'.alarm-row[data-id="{seeded.alarm_id}"]')
    expect(row).to_contain_text("Face mismatch")
    expect(row).to_contain_text("****7890")
    expect(page.locator("#count-open")).to_have_text("1")
    row.click()

    detail = page.locator("#detail")
    expect(detail.locator("[data-field=facility]")).to_have_text("Riverside Pharmacy")
    expect(detail.locator("[data-field=distance]")).to_have_text(f"{seeded.distance:.3f}")
    assert natural_widths(page, ".faces img") == [150, 150]
    expect(detail.locator("[data-field=no-video]")).to_be_visible()

    page.keyboard.press("a")
    expect(detail.locator("[data-field=status]")).to_have_text("acknowledged")
    detail.locator("[data-action=close]").click()
    page.check("input[value=confirmed_misuse]")
    page.fill("#close-reason", "the person at the till is not the card holder")
    page.click("#close-confirm")

    expect(detail.locator("[data-field=status]")).to_have_text("closed: confirmed misuse")
    expect(detail.locator("[data-field=history] tr")).to_have_count(3)
    expect(page.locator("#count-open")).to_have_text("0")
    with sqlite_db.transaction() as s:
        alarm = alarms.get(s, alarm_id=seeded.alarm_id)
        assert alarm is not None
        assert alarm.status is AlarmStatus.CLOSED
        assert alarm.resolution is Resolution.CONFIRMED_MISUSE
        assert [e.actor for e in alarm.events] == ["system", "olga", "olga"]


def test_a_new_alarm_appears_at_the_top_without_a_reload(
    page: Page, sqlite_db: Database, settings: Settings, samples: Path, place: Place,
) -> None:
    first_pair, second_pair = lfw_pair(samples, same=False), lfw_pair(samples, same=False,
                                                                      index=1)
    older = add_mismatch(sqlite_db, settings, place, enrolled=first_pair[0],
                         at_counter=first_pair[1], card_no="6200000000001111")
    sign_in(page)
    expect(page.locator(".alarm-row")).to_have_count(1)
    page.evaluate("() => { window.sameDocument = true; }")

    newer = add_mismatch(sqlite_db, settings, place, enrolled=second_pair[0],
                         at_counter=second_pair[1], card_no="6200000000002222")

    rows = page.locator(".alarm-row")
    expect(rows).to_have_count(2, timeout=5000)
    expect(rows.first).to_have_attribute("data-id", str(newer.alarm_id))
    expect(rows.first.locator(".tag.new")).to_have_text("NEW")
    expect(rows.nth(1)).to_have_attribute("data-id", str(older.alarm_id))
    expect(page.locator("#count-open")).to_have_text("2")
    expect(page).to_have_title("(2) Alarms · swipeguard")
    assert page.evaluate("() => window.sameDocument") is True
