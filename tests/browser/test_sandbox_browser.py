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


async def test_a_sent_reply_leaves_its_box_empty_and_mrkdwn_renders_as_formatting(
    page: Any,
) -> None:
    """After Send and Reply their boxes are empty (nothing to post twice); `*bold*`,
    `_italics_`, `~strike~`, `code` and `<url|label>` show as formatting, not as marks."""
    from playwright.async_api import expect

    async with running_sandbox() as sandbox:
        await page.goto(sandbox.url)
        await page.locator("#message-text").fill(
            "*Cracked* _again_, ~twice~ `#1042` see <https://example.com/faq|the FAQ>"
        )
        await page.get_by_role("button", name="Send").click()
        message = page.locator("#messages > li.message", has_text="the FAQ")
        await expect(message).to_be_visible()
        await expect(page.locator("#message-text")).to_have_value("")
        text = message.locator(":scope > .text")
        await expect(text.locator("strong")).to_have_text("Cracked")
        await expect(text.locator("em")).to_have_text("again")
        await expect(text.locator("del")).to_have_text("twice")
        await expect(text.locator("code")).to_have_text("#1042")
        link = text.get_by_role("link", name="the FAQ")
        await expect(link).to_have_attribute("href", "https://example.com/faq")
        await expect(text).to_have_text("Cracked again, twice #1042 see the FAQ")

        await message.locator(":scope > .actions").get_by_role("button", name="Reply").click()
        box = message.get_by_label("Reply in thread")
        await box.fill("Any news on this?")
        await message.get_by_role("button", name="Reply", exact=True).last.click()
        await expect(message.locator(".thread")).to_contain_text("Any news on this?")
        await expect(message.get_by_label("Reply in thread")).to_have_value("")
        await page.screenshot(path=ARTIFACTS / "sandbox-mrkdwn.png")


async def test_the_create_ticket_shortcut_opens_its_modal_and_submitting_makes_a_ticket(
    page: Any,
) -> None:
    """⋯ → Create ticket on a message opens the app's modal with the message's text; an empty
    subject is refused in the modal; a filled one creates the ticket with that subject."""
    from playwright.async_api import expect

    async with running_sandbox() as sandbox:
        await page.goto(sandbox.url)
        await page.get_by_label("Alice (agent)").check()
        message = page.locator("#messages > li.message", has_text="charged twice")
        actions = message.locator(":scope > .actions")
        await actions.get_by_role("button", name="More actions").click()
        await page.get_by_role("menuitem", name="Create ticket").click()

        modal = page.get_by_role("dialog")
        await expect(modal.get_by_role("heading")).to_have_text("Create ticket")
        subject = modal.get_by_label("Subject")
        await expect(subject).to_have_value("Also, I was charged twice for the same order.")
        await expect(modal.get_by_label("Message")).to_have_value(
            "Also, I was charged twice for the same order."
        )
        await subject.fill("")
        await modal.get_by_role("button", name="Create").click()
        await expect(modal).to_contain_text("Enter a subject.")

        await subject.fill("Double charge on order 1042")
        await modal.get_by_label("Priority").select_option("high")
        await modal.get_by_label("Tags").fill("billing")
        await page.screenshot(path=ARTIFACTS / "sandbox-create-ticket-modal.png")
        await modal.get_by_role("button", name="Create").click()
        await expect(modal).to_contain_text("Creating the ticket")
        await modal.get_by_role("button", name="Close").click()
        await expect(modal).to_be_hidden()

        ticket = page.locator("#ticket-1")
        await expect(ticket).to_contain_text("Double charge on order 1042")
        await expect(ticket).to_contain_text("billing")
        await actions.get_by_role("button", name="1 reply").click()
        await expect(message.locator(".thread")).to_contain_text("Ticket #1")


async def test_on_a_390_px_phone_the_conversation_stays_in_view(page: Any) -> None:
    """At 390 px the conversation fills the screen; the channel list and the Gorgias panel open
    as drawers from its top bar, and picking a channel returns to the conversation."""
    from playwright.async_api import expect

    width, height = 390, 844
    await page.set_viewport_size({"width": width, "height": height})
    async with running_sandbox() as sandbox:
        await page.goto(sandbox.url)
        conversation = page.locator("#conversation")
        await expect(page.locator("#messages")).to_contain_text("cracked screen")
        await page.locator("#message-text").fill("My *screen* is still _cracked_, see <#C0|faq>")
        await page.get_by_role("button", name="Send").click()
        await expect(page.locator("#messages strong", has_text="screen")).to_be_visible()
        await page.screenshot(path=ARTIFACTS / "sandbox-390.png")

        await expect(conversation).to_be_visible()
        box = await conversation.bounding_box()
        assert box is not None
        inside = (box["x"] >= 0, box["y"] >= 0, box["x"] + box["width"] <= width)
        assert ((True, True, True), True) == (inside, box["y"] + box["height"] <= height)
        assert width == round(box["width"])
        await expect(page.get_by_role("button", name="Send")).to_be_in_viewport()

        await page.get_by_role("button", name="Channels").click()
        await page.locator("#channels").get_by_role("button", name="# general").click()
        await expect(page.locator("#channel-name")).to_have_text("# general")
        await expect(page.locator("#channels")).to_be_hidden()
        await page.get_by_role("button", name="Gorgias").click()
        await expect(page.locator("#no-tickets")).to_be_visible()
        await page.keyboard.press("Escape")
        await expect(page.locator("#no-tickets")).to_be_hidden()
        await expect(conversation).to_be_in_viewport()
