"""One log-in throttle for the site's log-in form, the admin's and `POST /api/token`,
counted per (username, client address) and per address, never per username alone."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.conftest import PASSWORD

User = get_user_model()
ATTACKER = "203.0.113.66"
ALICE_HOME = "198.51.100.7"
PROXY = "10.1.0.5"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 8


@pytest.fixture
def staff_alice(alice):
    alice.is_staff = True
    alice.save()
    return alice


def site_login(client, username, password, address):
    client.logout()
    response = client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )
    return response.status_code == 302


def admin_login(client, username, password, address, **headers):
    client.logout()
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
        **headers,
    )
    return response.status_code == 302


def token_login(client, username, password, address, **headers):
    response = client.post(
        "/api/token",
        {"username": username, "password": password},
        content_type="application/json",
        REMOTE_ADDR=address,
        **headers,
    )
    return response.status_code == 200


LOGINS = {"site": site_login, "admin": admin_login, "token": token_login}


@pytest.mark.parametrize("door", LOGINS)
def test_five_wrong_guesses_lock_alice_out_from_that_address_only(client, staff_alice, door):
    login = LOGINS[door]
    for _ in range(5):
        assert not login(client, "alice", "wrong", ATTACKER)
    assert not login(client, "alice", PASSWORD, ATTACKER)
    assert login(client, "alice", PASSWORD, ALICE_HOME)


@pytest.mark.parametrize("guessed_at", LOGINS)
@pytest.mark.parametrize("refused_at", LOGINS)
def test_the_three_log_in_doors_share_one_count(client, staff_alice, guessed_at, refused_at):
    for _ in range(5):
        LOGINS[guessed_at](client, "alice", "wrong", ATTACKER)
    assert not LOGINS[refused_at](client, "alice", PASSWORD, ATTACKER)


def test_the_admin_login_page_says_why_it_refuses(client, staff_alice):
    for _ in range(5):
        admin_login(client, "alice", "wrong", ATTACKER)
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "alice", "password": PASSWORD, "next": "/admin/"},
        REMOTE_ADDR=ATTACKER,
    )
    assert response.status_code == 200
    assert "Too many failed log-ins" in response.content.decode()


def test_an_address_is_refused_after_its_own_limit_whatever_the_usernames(
    client, alice, bob, carol
):
    for name in ("mallory", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"):
        assert not token_login(client, name, "wrong", ATTACKER)
    assert not token_login(client, "bob", PASSWORD, ATTACKER)
    assert not site_login(client, "carol", PASSWORD, ATTACKER)
    # Fewer than the address limit for one username from elsewhere does not matter.
    assert token_login(client, "bob", PASSWORD, ALICE_HOME)


def test_the_address_limit_counts_failures_for_every_username(client, alice, bob):
    # Four guesses each at two users: under the per-user limit, at the address's.
    for name in ("alice", "bob"):
        for _ in range(4):
            token_login(client, name, "wrong", ATTACKER)
    assert not token_login(client, "alice", PASSWORD, ATTACKER)


def test_a_form_without_a_password_does_not_reset_the_count(client, alice):
    for _ in range(4):
        site_login(client, "alice", "wrong", ATTACKER)
    # Never reaches authenticate(): it must not count as a success.
    site_login(client, "alice", "", ATTACKER)
    site_login(client, "alice", "wrong", ATTACKER)
    assert not site_login(client, "alice", PASSWORD, ATTACKER)


def test_logging_in_forgets_that_users_failures_from_that_address(client, alice, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 20
    for _ in range(4):
        site_login(client, "alice", "wrong", ATTACKER)
    assert site_login(client, "alice", PASSWORD, ATTACKER)
    for _ in range(4):
        site_login(client, "alice", "wrong", ATTACKER)
    assert site_login(client, "alice", PASSWORD, ATTACKER)


def test_logging_in_does_not_reset_the_addresss_own_count(client, alice, bob):
    for name in ("carol", "dave", "erin", "frank", "grace", "heidi", "ivan"):
        token_login(client, name, "wrong", ATTACKER)
    # A guesser who owns an account cannot clear the address's count with it.
    assert token_login(client, "bob", PASSWORD, ATTACKER)
    token_login(client, "judy", "wrong", ATTACKER)
    assert not token_login(client, "alice", PASSWORD, ATTACKER)


def test_a_made_up_x_forwarded_for_does_not_escape_the_throttle(client, alice):
    for index in range(5):
        forged = {"HTTP_X_FORWARDED_FOR": f"192.0.2.{index}"}
        assert not token_login(client, "alice", "wrong", ATTACKER, **forged)
    forged = {"HTTP_X_FORWARDED_FOR": "192.0.2.200"}
    assert not token_login(client, "alice", PASSWORD, ATTACKER, **forged)


def test_behind_a_trusted_proxy_clients_are_counted_by_their_forwarded_address(
    client, staff_alice, settings
):
    settings.CHAT_TRUSTED_PROXIES = [PROXY]
    for _ in range(5):
        admin_login(client, "alice", "wrong", PROXY, HTTP_X_FORWARDED_FOR=ATTACKER)
    assert not admin_login(client, "alice", PASSWORD, PROXY, HTTP_X_FORWARDED_FOR=ATTACKER)
    # Alice, through the same proxy from her own address, still gets in.
    assert admin_login(client, "alice", PASSWORD, PROXY, HTTP_X_FORWARDED_FOR=ALICE_HOME)
    assert token_login(client, "alice", PASSWORD, PROXY, HTTP_X_FORWARDED_FOR=ALICE_HOME)


def test_the_admin_refusing_a_non_staff_user_is_not_a_wrong_guess(client, alice):
    for _ in range(5):
        assert not admin_login(client, "alice", PASSWORD, ATTACKER)
    assert site_login(client, "alice", PASSWORD, ATTACKER)
