"""The sandbox as a person uses it: a real browser (Debian's chromium, driven by Playwright) on the
page, with the real bot behind it. Sample cards appear; a card is rejected with a reason through
the modal (a field error first); one is approved; a quorum refund sent through the page's ticket
form needs a second reviewer; ``/signoff pending`` answers privately; App Home opens. The test
keeps a screenshot in tests/artifacts/.

It fails, never skips, when chromium is missing: CI installs it (.ci/run), and a browser test
that silently does not run would let the page break unnoticed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

from bot.entrypoints.demo.runner import load_sample_tickets
from tests.support.sandbox_harness import RunningSandbox, running_sandbox

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WAIT_MS = 30_000


def _card(page: Page, header: str) -> Locator:
    heading = page.get_by_role("heading", name=header, exact=True)
    return page.locator("article.msg").filter(has=heading)


def _pending_headers(sandbox: RunningSandbox) -> list[str]:
    """Headers of sample cards one reviewer can decide: waiting, not critical (a lead must
    approve those) and moving no money (refunds and credits may need two approvers)."""
    headers = []
    for card in sandbox.cards():
        actions = [b for b in card["blocks"] if b["type"] == "actions"]
        if not actions or any("confirm" in e for e in actions[0]["elements"]):
            continue
        fields = str(card["blocks"][1:3])
        if "CRITICAL" in fields or re.search(r"Proposed action\*\\n(refund|credit)", fields):
            continue
        headers.append(str(card["blocks"][0]["text"]["text"]))
    return headers


def _act_as(page: Page, name: str) -> None:
    page.get_by_label("Acting as").select_option(label=name)


def test_a_person_reviews_in_the_sandbox(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("chromium is missing: apt-get install -y chromium (.ci/run does this)")
    samples = load_sample_tickets()
    with running_sandbox(tmp_path, samples=samples) as sandbox, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            _review(page, sandbox)
        finally:
            browser.close()


def _review(page: Page, sandbox: RunningSandbox) -> None:
    page.goto(sandbox.url)
    expect(page.locator("article.msg h3.bk-header").first).to_be_visible(timeout=WAIT_MS)
    sandbox.card_about("Review:")
    headers: list[Any] = []
    # The samples that need a human arrive over a few seconds; wait for two plain ones.
    for _ in range(60):
        headers = _pending_headers(sandbox)
        if len(headers) >= 2:
            break
        page.wait_for_timeout(500)
    assert len(headers) >= 2, headers
    to_reject, to_approve = headers[0], headers[1]
    expect(_card(page, to_reject)).to_be_visible(timeout=WAIT_MS)

    # Reject with a reason, through the modal; "Other" without details is refused in the modal.
    _card(page, to_reject).get_by_role("button", name="Reject").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible(timeout=WAIT_MS)
    dialog.get_by_label("Reason").select_option(label="Other")
    dialog.get_by_role("button", name="Reject").click()
    expect(dialog.get_by_role("alert")).to_contain_text("required for Other", timeout=WAIT_MS)
    dialog.get_by_label("Details").fill("The customer already got this refund last week.")
    dialog.get_by_role("button", name="Reject").click()
    expect(dialog).to_be_hidden(timeout=WAIT_MS)
    expect(_card(page, to_reject)).to_contain_text("Rejected by @Ana (reviewer)", timeout=WAIT_MS)

    # Approve a plain one.
    _card(page, to_approve).get_by_role("button", name="Approve").click()
    expect(_card(page, to_approve)).to_contain_text("Approved by @Ana", timeout=WAIT_MS)

    # A refund above the quorum amount, sent through the page's ticket form.
    page.get_by_role("button", name="New ticket…").click()
    page.get_by_label("Subject").fill("Refund the whole annual plan")
    page.get_by_label("Message", exact=True).fill(
        "We cancelled in week one. Please refund all 900 dollars."
    )
    page.get_by_label("Refund requested").fill("900")
    page.get_by_role("button", name="Send ticket").click()
    expect(page.get_by_role("status")).to_contain_text("Ticket accepted", timeout=WAIT_MS)
    page.get_by_role("button", name="# signoff-review").click()
    quorum = _card(page, "Review: Refund the whole annual plan")
    expect(quorum).to_be_visible(timeout=WAIT_MS)
    quorum.get_by_role("button", name="Approve").click()
    confirm = page.get_by_role("dialog", name="Approve this payment?")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Approve").click()
    expect(quorum).to_contain_text("1 of 2 approvals", timeout=WAIT_MS)
    _act_as(page, "Ben (reviewer)")
    quorum.get_by_role("button", name="Approve").click()
    page.get_by_role("dialog", name="Approve this payment?").get_by_role(
        "button", name="Approve"
    ).click()
    expect(quorum).to_contain_text(
        re.compile(r"Approved by @Ana \(reviewer\) and @Ben \(reviewer\)"), timeout=WAIT_MS
    )

    # /signoff pending answers only the person who asked.
    page.get_by_label("Message #signoff-review").fill("/signoff pending")
    page.get_by_role("button", name="Send").click()
    answer = page.locator("article.ephemeral").last
    expect(answer).to_contain_text("Only visible to you", timeout=WAIT_MS)
    answer.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sandbox.png"))

    # App Home, published by the bot for Ben.
    page.get_by_role("button", name="Signoff · Home").click()
    expect(page.locator("#home .home-view")).to_be_visible(timeout=WAIT_MS)
    page.screenshot(path=str(ARTIFACTS / "sandbox-home.png"))
