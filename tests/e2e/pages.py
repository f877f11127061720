"""What the browser tests do on the site's pages, by the outside contract's accessible
names: sign up, log in, open a room, send, read the role=log element."""

from __future__ import annotations

PASSWORD = "a-long-Unusual-passphrase-77"
LIVE = 10_000  # ms: how long a message may take to arrive in the other browser


def expect(*args, **kwargs):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def sign_up(page, username: str) -> None:
    page.goto("/accounts/signup/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("link", name="New room")).to_be_visible()


def log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="New room")).to_be_visible()


def create_room(page, name: str) -> None:
    page.get_by_role("link", name="New room").click()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create room").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    wait_until_joined(page)


def open_room_from_list(page, name: str) -> None:
    page.goto("/")
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    wait_until_joined(page)


def wait_until_joined(page) -> None:
    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()


def send(page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    page.get_by_role("button", name="Send").click()
    expect(box).to_have_value("")


def message_texts(page) -> list[str]:
    """The bodies of people's delivered messages in the log, top to bottom (once no
    send is still on its way); system lines such as "bob joined" are left out."""
    log = page.get_by_role("log")
    expect(log.locator("[aria-busy=true]")).to_have_count(0, timeout=LIVE)
    texts = log.locator("article:not(.kind-system) .body").all_inner_texts()
    return [text.strip() for text in texts]


def wait_for(page, condition, timeout: float = LIVE) -> None:
    """Poll a Python-side condition while letting Playwright deliver its events."""
    waited = 0
    while not condition():
        assert waited < timeout, "timed out"
        page.wait_for_timeout(100)
        waited += 100
