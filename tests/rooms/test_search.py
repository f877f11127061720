import pytest

from rooms import services

pytestmark = pytest.mark.django_db


def test_search_finds_words_in_readable_rooms_newest_first(api_client, room, alice, bob, carol):
    services.message_post(room=room, author=alice, body="Lunch at noon?")
    services.message_post(room=room, author=bob, body="lunch sounds good")
    response = api_client(carol).get("/api/search", q="LUNCH")
    assert response.status_code == 200
    assert [m["body"] for m in response.json()["results"]] == [
        "lunch sounds good",
        "Lunch at noon?",
    ]


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


def test_search_matches_word_prefixes_and_every_word(api_client, room, alice):
    services.message_post(room=room, author=alice, body="Deploying the new release tonight")
    services.message_post(room=room, author=alice, body="release notes are ready")
    api = api_client(alice)
    assert [m["body"] for m in api.get("/api/search", q="deplo").json()["results"]] == [
        "Deploying the new release tonight"
    ]
    both = api.get("/api/search", q="releas tonig").json()["results"]
    assert [m["body"] for m in both] == ["Deploying the new release tonight"]
    assert len(api.get("/api/search", q="release").json()["results"]) == 2


def test_search_finds_edits_and_forgets_deletions(api_client, room, alice):
    from rooms import changes

    message, _ = services.message_post(room=room, author=alice, body="old wording")
    changes.message_edit(message=message, by=alice, body="fresh wording")
    api = api_client(alice)
    assert api.get("/api/search", q="old").json()["results"] == []
    assert len(api.get("/api/search", q="fresh").json()["results"]) == 1
    changes.message_delete(message=message, by=alice)
    assert api.get("/api/search", q="fresh").json()["results"] == []


def test_search_treats_query_syntax_as_plain_words(api_client, room, alice):
    services.message_post(room=room, author=alice, body="a OR b AND c")
    for query in ['"', "*", "OR", "a & | ! :*", "NEAR(", "'; DROP TABLE x; --"]:
        response = api_client(alice).get("/api/search", q=query)
        assert response.status_code in (200, 400), query
