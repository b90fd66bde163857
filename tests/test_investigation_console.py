"""The investigation page in Debian's chromium: a lost card's suspects, its timeline, search."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from api_support import PASSWORD, LiveServer, add_user
from investigation_support import T0, City, lfw_people
from swipeguard.api.app import create_app
from swipeguard.auth.models import Role
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.investigations import service

CHROMIUM = Path("/usr/bin/chromium")
VICTIM, THIEF = "6200000000000100", "6200000000000200"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture
def city(sqlite_db: Database, samples: Path) -> tuple[City, list[int]]:
    people: tuple[tuple[np.ndarray, ...], ...] = lfw_people(samples)
    add_user(sqlite_db, "ivy", Role.INVESTIGATOR)
    c = City(sqlite_db)
    c.facility("North")
    c.facility("South")
    c.holder(VICTIM, [people[0][0]])
    c.holder(THIEF, [people[1][0]])
    with sqlite_db.transaction() as s:
        service.report_lost(s, card_no=VICTIM, since=T0, actor="olga", reason="stolen")
    made = [c.swipe(VICTIM, "North" if i % 2 else "South", T0 + timedelta(hours=i + 1),
                    face=people[1][i + 1], amount_cents=1500) for i in range(3)]
    return c, [m.capture_id for m in made if m.capture_id is not None]


@pytest.fixture
def page(settings: Settings, sqlite_db: Database, city: tuple[City, list[int]]) -> Iterator[Page]:
    with LiveServer(create_app(settings, sqlite_db)) as server, sync_playwright() as p:
        browser: Browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync",
        ])
        context = browser.new_context(viewport={"width": 1280, "height": 900},
                                      base_url=server.url)
        yield context.new_page()
        context.close()
        browser.close()


def test_an_investigator_sees_the_ranked_suspects_timeline_and_searches(
    page: Page, city: tuple[City, list[int]],
) -> None:
    _, captures = city
    page.goto("/investigate")
    expect(page).to_have_url("/console/sign-in?next=/investigate")
    # The sign-in page returns only to /console/ pages; this page lives at /investigate.
    signed = page.request.post("/api/session", data={"username": "ivy", "password": PASSWORD})
    assert signed.ok
    page.goto("/investigate")
    expect(page).to_have_url("/investigate")

    page.fill("#card-no", VICTIM)
    page.click("#card-form button[type=submit]")

    first = page.locator("article.suspect").first
    expect(first.locator("h2")).to_contain_text("#1: Holder 0200")
    expect(first.locator("tbody tr")).to_have_count(3)
    expect(page.locator("#timeline tbody tr").first).to_contain_text("card_lost")
    expect(page.locator("#timeline")).to_contain_text("45.00")

    page.fill("#capture-id", str(captures[0]))
    page.click("#search-form button[type=submit]")

    expect(page.locator("#search-results tbody tr").first).to_contain_text("Holder 0200")
    expect(page.locator("#search-status")).to_contain_text("likely the same person")
    page.click("#save-case")
    expect(page.locator("#card-status")).to_contain_text("Saved as case 1.")
