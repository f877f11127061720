import pytest

from rooms import services

pytestmark = pytest.mark.django_db


def test_search_finds_words_in_readable_rooms_newest_first(api_client, room, alice, bob, carol):
    services.message_post(room=room, author=alice, body="Lunch at noon?")
    services.message_post(room=room, author=bob, body="lunch sounds good")
    response = api_client(carol).get("/api/search", q="LUNCH")
    assert response.status_code == 200
    assert [m["body"] for m in response.json()["results"]] == ["lunch sounds good", "Lunch at noon?"]


def test_search_never_leaks_a_private_room(api_client, alice, bob, carol, mallory):
    conference = services.room_create(
        creator=alice, name="Secret", kind="conference", members=["bob", "carol"]
    )
    services.message_post(room=conference, author=alice, body="the secret plan")
    assert api_client(mallory).get("/api/search", q="secret").json() == {"results": []}
    found = api_client(bob).get("/api/search", q="secret").json()["results"]
    assert [m["body"] for m in found] == ["the secret plan"]


def test_search_needs_a_query(api_client, alice):
    response = api_client(alice).get("/api/search", q="  ")
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)
