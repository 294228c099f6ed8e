"""The sandbox page in headless Chromium: a newcomer opens and closes a ticket, runs status."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_sandbox import running_sandbox

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = ROOT / "artifacts"
DOCS_SCREENSHOT = ROOT / "docs" / "img" / "sandbox.png"
CHROMIUM = Path("/usr/bin/chromium")
# Debian's chromium, driven by Playwright without downloading a browser of its own.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 30_000  # the bot works in the background; a bound for a busy machine, not a timing


def require_chromium() -> None:
    """Skip without Chromium or Playwright, or fail when CI demands them (as conftest does)."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (Debian package 'chromium')")
    if not _playwright_installed():
        missing.append("the 'playwright' Python package (dev extras)")
    if not missing:
        return
    message = f"browser tests need {' and '.join(missing)}"
    if os.environ.get("TICKETBOLT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}, and TICKETBOLT_REQUIRE_SERVICES=1 demands them")
    pytest.skip(f"{message}; install them to run this test (apt-get install -y chromium)")


def _playwright_installed() -> bool:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    """A 1280×800 page in headless Chromium; on failure its last screenshot is kept."""
    require_chromium()
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            tab = await browser.new_page(viewport={"width": 1280, "height": 800})
            tab.set_default_timeout(WAIT_MS)
            try:
                yield tab
            finally:
                await tab.screenshot(path=ARTIFACTS / "sandbox-last.png")
        finally:
            await browser.close()


async def test_a_newcomer_tickets_a_message_closes_it_and_reads_the_status(page: Any) -> None:
    """Post as the customer, react 🎫 as the agent → the thread reply names the ticket and the
    Gorgias panel lists it open; ✅ → closed; `/ticketbolt status` → the report is shown."""
    from playwright.async_api import expect

    async with running_sandbox() as sandbox:
        await page.goto(sandbox.url)
        await expect(page.get_by_role("note")).to_contain_text("nothing leaves this machine")
        await expect(page.locator("#messages")).to_contain_text("cracked screen")

        await page.locator("#message-text").fill("Where is my refund for order 5512?")
        await page.get_by_role("button", name="Send").click()
        message = page.locator("#messages > li.message", has_text="refund for order 5512")
        await expect(message).to_be_visible()
        actions = message.locator(":scope > .actions")  # the thread's replies have their own

        await page.get_by_label("Alice (agent)").check()
        await actions.get_by_role("button", name="add :ticket:").click()
        await actions.get_by_role("button", name="1 reply").click()
        await expect(message.locator(".thread")).to_contain_text("Ticket #1")
        ticket = page.locator("#ticket-1")
        await expect(ticket).to_contain_text("refund for order 5512")
        await expect(ticket.locator(".status")).to_have_text("open")
        await page.screenshot(path=ARTIFACTS / "sandbox-ticket-open.png")

        await actions.get_by_role("button", name="add :white_check_mark:").click()
        await expect(ticket.locator(".status")).to_have_text("closed")
        await expect(message.locator(".thread")).to_contain_text("resolved")
        await page.screenshot(path=ARTIFACTS / "sandbox-ticket-closed.png")
        if os.environ.get("TICKETBOLT_UPDATE_SCREENSHOT") == "1":
            DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
            await page.screenshot(path=DOCS_SCREENSHOT)

        await page.locator("#command-text").fill("status")
        await page.get_by_role("button", name="Run").click()
        report = page.locator("li.ephemeral", has_text="Gorgias")
        await expect(report).to_contain_text("Only visible to Alice")
        await expect(report).to_contain_text("Database")
        await report.scroll_into_view_if_needed()
        await page.screenshot(path=ARTIFACTS / "sandbox-status.png")
