"""Password change and reset: Django's own views in the site's templates, linked from
the profile and log-in pages, throttled like the log-in."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from tests.conftest import PASSWORD
from tests.factories import UserFactory

NEW_PASSWORD = "plum-tangerine-93-walrus"
LINK = re.compile(r"https?://testserver(/accounts/password/reset/[^/\s]+/[^/\s]+/)")


def logs_in(client, username: str, password: str) -> bool:
    client.logout()
    response = client.post("/accounts/login/", {"username": username, "password": password})
    return response.status_code == 302


@pytest.fixture
def alice_with_email(alice):
    alice.email = "alice@example.com"
    alice.save()
    return alice


# --- Change -----------------------------------------------------------------------------


def test_the_profile_page_links_to_changing_the_password(client, alice):
    client.force_login(alice)
    html = client.get("/accounts/profile/").content.decode()
    assert 'href="/accounts/password/"' in html
    assert ">Change password</a>" in html


def test_the_change_page_has_the_sites_look_and_labelled_fields(client, alice):
    client.force_login(alice)
    html = client.get("/accounts/password/").content.decode()
    assert '<nav aria-label="Main">' in html  # base.html, not the admin's look
    for label in ("Old password", "New password", "New password confirmation"):
        assert f">{label}</label>" in html


def test_changing_the_password_then_logging_in_with_the_new_one(client, alice):
    client.force_login(alice)
    response = client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/done/"
    assert client.get("/accounts/password/done/").status_code == 200  # still signed in
    assert logs_in(client, "alice", NEW_PASSWORD)
    assert not logs_in(client, "alice", PASSWORD)


def test_a_wrong_current_password_changes_nothing(client, alice):
    client.force_login(alice)
    response = client.post(
        "/accounts/password/",
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert logs_in(client, "alice", PASSWORD)


def test_wrong_current_passwords_are_throttled_like_log_ins(client, alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    client.force_login(alice)
    wrong = {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    for _ in range(3):
        client.post("/accounts/password/", wrong)
    right = {**wrong, "old_password": PASSWORD}
    response = client.post("/accounts/password/", right, follow=True)
    assert "Too many wrong passwords" in response.content.decode()
    client.logout()
    assert not logs_in(client, "alice", NEW_PASSWORD)


def test_changing_the_password_needs_a_login(client, db):
    response = client.get("/accounts/password/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- Reset ------------------------------------------------------------------------------


def test_the_login_page_links_to_resetting_the_password(client, db):
    html = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password/reset/"' in html
    assert ">Forgot your password?</a>" in html


def test_a_reset_mail_holds_a_link_that_sets_a_new_password(client, alice_with_email):
    page = client.get("/accounts/password/reset/").content.decode()
    assert ">Email</label>" in page
    response = client.post("/accounts/password/reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/sent/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    assert "alice" in message.body
    link = LINK.search(message.body).group(1)

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    assert ">New password</label>" in form_page.content.decode()
    set_password_url = form_page.redirect_chain[-1][0]
    response = client.post(
        set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/done/"
    assert client.get("/accounts/password/reset/done/").status_code == 200
    assert logs_in(client, "alice", NEW_PASSWORD)
    assert not logs_in(client, "alice", PASSWORD)


def test_a_reset_link_works_once(client, alice_with_email):
    client.post("/accounts/password/reset/", {"email": "alice@example.com"})
    link = LINK.search(mail.outbox[0].body).group(1)
    set_password_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    again = client.get(link, follow=True)
    assert "invalid or has already been used" in again.content.decode()


def test_an_unknown_email_gets_the_same_answer_and_no_mail(client, alice_with_email):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/sent/"
    assert mail.outbox == []


def test_reset_mails_are_limited_per_email_address(client, alice_with_email, settings):
    settings.PASSWORD_RESET_LIMIT = 2
    for index in range(2):
        client.post(
            "/accounts/password/reset/",
            {"email": "alice@example.com"},
            REMOTE_ADDR=f"10.0.0.{index}",
        )
    response = client.post(
        "/accounts/password/reset/", {"email": "ALICE@example.com"}, REMOTE_ADDR="10.0.0.9"
    )
    assert response.status_code == 200
    assert "Too many reset requests" in response.content.decode()
    assert len(mail.outbox) == 2


def test_reset_mails_are_limited_per_address(client, db, settings):
    settings.PASSWORD_RESET_LIMIT = 2
    for index in range(3):
        UserFactory(username=f"user{index}", email=f"user{index}@example.com")
    for index in range(2):
        client.post("/accounts/password/reset/", {"email": f"user{index}@example.com"})
    response = client.post("/accounts/password/reset/", {"email": "user2@example.com"})
    assert "Too many reset requests" in response.content.decode()
    assert len(mail.outbox) == 2


def test_mail_goes_to_the_console_unless_an_smtp_host_is_set(monkeypatch):
    import importlib

    from chatsite import settings as site_settings

    try:
        monkeypatch.delenv("EMAIL_HOST", raising=False)
        assert importlib.reload(site_settings).EMAIL_BACKEND.endswith("console.EmailBackend")
        monkeypatch.setenv("EMAIL_HOST", "smtp.example.com")
        monkeypatch.setenv("EMAIL_PORT", "2525")
        monkeypatch.setenv("EMAIL_USE_TLS", "false")
        monkeypatch.setenv("DEFAULT_FROM_EMAIL", "chat@example.com")
        reloaded = importlib.reload(site_settings)
        assert reloaded.EMAIL_BACKEND.endswith("smtp.EmailBackend")
        assert (reloaded.EMAIL_HOST, reloaded.EMAIL_PORT) == ("smtp.example.com", 2525)
        assert reloaded.EMAIL_USE_TLS is False
        assert reloaded.DEFAULT_FROM_EMAIL == "chat@example.com"
    finally:
        monkeypatch.undo()
        importlib.reload(site_settings)
