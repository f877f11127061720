from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from rooms.models import Membership, Room


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.LazyAttribute(lambda u: u.username.title())
    password = factory.django.Password("correct-horse-42")


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Room {n}")
    slug = factory.Sequence(lambda n: f"room-{n}")
    kind = Room.Kind.PUBLIC
    creator = factory.SubFactory(UserFactory)

    @factory.post_generation
    def owner_membership(room, create, extracted, **kwargs):
        if create and room.creator is not None:
            Membership.objects.get_or_create(
                room=room, user=room.creator, defaults={"role": Membership.Role.OWNER}
            )
