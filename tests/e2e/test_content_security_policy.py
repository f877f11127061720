"""Every page is served with the Content-Security-Policy header and works under it: no
inline script or style, nothing loaded from elsewhere. Chromium reports each violation
as a `securitypolicyviolation` event and a console error; neither may happen on the
main pages, used as people use them (a room joined over its socket, a message sent)."""

from __future__ import annotations

import pytest

from tests.e2e.pages import PASSWORD, add_messages, create_user, expect, log_in, send

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


@pytest.fixture
def room(transactional_db):
    from tests.factories import RoomFactory

    alice = create_user("alice")
    staff = create_user("root")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    room = RoomFactory(name="Policy room", creator=alice)
    add_messages(room, alice, ["**bold** and a [link](https://example.com) for @alice"])
    return room


class Watched:
    """A page that records CSP violations, console errors and each page's header."""

    def __init__(self, page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)
        page.on("response", self._response)

    def _console(self, message) -> None:
        # A failed load is reported with its address by _response.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console error: {message.text}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status} for {response.url}")

    def visit(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None and response.ok, (path, response and response.status)
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy, (path, policy)
        assert "frame-ancestors 'none'" in policy, (path, policy)
        self.check(path)

    def check(self, where: str) -> None:
        self.page.wait_for_load_state("load")
        violations = self.page.evaluate("window.__cspViolations || []")
        self.problems.extend(f"{where}: {violation}" for violation in violations)
        assert not self.problems, self.problems


def test_the_main_pages_run_with_no_policy_violation(room, new_page):
    page = Watched(new_page())
    for path in ("/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"):
        page.visit(path)
    page.visit("/admin/login/")
    page.visit("/api/docs")  # django-ninja's Swagger UI, served from this site
    expect(page.page.locator(".opblock").first).to_be_visible()
    page.check("the API docs, drawn")

    log_in(page.page, "alice", PASSWORD)
    page.check("after logging in")
    page.visit("/")
    page.visit(f"/rooms/{room.id}/")
    expect(page.page.get_by_role("status").filter(has_text="Connected")).to_be_visible()
    expect(page.page.get_by_role("log").get_by_text("bold")).to_be_visible()
    send(page.page, "a message under the policy")
    expect(page.page.get_by_role("log").get_by_text("a message under the policy")).to_be_visible()
    page.check("the room, after sending")
    for path in (
        "/accounts/users/alice/",
        "/accounts/profile/",
        "/accounts/password/",
        "/accounts/users/?q=al",
        "/mentions/",
        "/search/?q=bold",
        "/rooms/new/",
    ):
        page.visit(path)


def test_the_admin_runs_with_no_policy_violation(room, new_page):
    page = Watched(new_page())
    page.page.goto("/admin/login/")
    page.page.get_by_label("Username").fill("root")
    page.page.get_by_label("Password").fill(PASSWORD)
    page.page.get_by_role("button", name="Log in").click()
    expect(page.page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.check("the admin's index")
    page.visit("/admin/accounts/user/")
    page.visit("/admin/accounts/user/add/")
