"""The users section of the settings page in Chromium (issue 16 item 6): an admin logs in through
the form (its CSRF token and cookie travel as a browser sends them), resets a user's password,
sees it once, ends a user's sessions, and nothing on the page breaks the CSP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_dashboard import browser, log_in, page, reason, server, shot  # noqa: F401

pytestmark = pytest.mark.skipif(reason is not None, reason=reason or "")


def test_admin_manages_users_in_the_browser(page: Any) -> None:  # noqa: F811
    log_in(page, "ada")
    page.goto("/settings")
    row = page.locator("table.users tr", has_text="pat")
    assert row.locator("button", has_text="Disable").count() == 1
    row.locator("button", has_text="End sessions").click()
    page.wait_for_selector("p.notice[role=status]")
    assert "session(s) of pat ended" in page.inner_text("p.notice[role=status]")
    page.locator("table.users tr", has_text="vic").locator("button", has_text="Reset password").click()
    page.wait_for_selector("p.notice code.secret")
    secret = page.inner_text("p.notice code.secret")
    assert len(secret) >= 12
    shot(page, "settings-users")
    page.goto("/settings")
    assert secret not in page.content()  # shown once
    assert not page.problems, page.problems
