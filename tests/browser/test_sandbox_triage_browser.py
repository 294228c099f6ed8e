"""Claiming in the sandbox page, in headless Chromium: the "Take it" button and the 🙋 one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_sandbox_browser import ARTIFACTS, page
from tests.test_sandbox import running_sandbox

pytestmark = pytest.mark.browser
__all__ = ["page"]  # the fixture


async def test_an_agent_takes_a_ticket_with_the_button_and_gives_it_back_with_the_reaction(
    page: Any,
) -> None:
    """The ticket message shows "Take it" and "Assign…"; Alice's click on "Take it" makes the
    Gorgias panel show her as the assignee; 🙋 on the message then its removal unassigns."""
    from playwright.async_api import expect

    async with running_sandbox() as sandbox:
        await page.goto(sandbox.url)
        await page.locator("#message-text").fill("The lid of my kettle is missing")
        await page.get_by_role("button", name="Send").click()
        message = page.locator("#messages > li.message", has_text="lid of my kettle")
        actions = message.locator(":scope > .actions")

        await page.get_by_label("Alice (agent)").check()
        await actions.get_by_role("button", name="add :ticket:").click()
        await actions.get_by_role("button", name="1 reply").click()
        thread = message.locator(".thread")
        await expect(thread.get_by_role("combobox", name="Assign…")).to_be_visible()
        await thread.get_by_role("button", name="Take it").click()
        ticket = page.locator("#ticket-1")
        await expect(ticket.locator(".assignee")).to_have_text("Assigned to Alice Agent")
        await expect(thread).to_contain_text("took ticket #1")
        await page.screenshot(path=ARTIFACTS / "sandbox-take-it.png")

        await actions.get_by_role("button", name="add :raising_hand:").click()
        await actions.get_by_role("button", name="remove :raising_hand:").click()
        await expect(ticket.locator(".assignee")).to_have_text("Unassigned")
        await expect(thread).to_contain_text("gave ticket #1 back")
