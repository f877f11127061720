"""Replies: a message may name the seq of the message it answers in the same room.

A nullable column with no default is a plain ALTER TABLE ... ADD COLUMN on SQLite, not
a table rebuild, so the FTS5 triggers of rooms_message survive (see 0010)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("rooms", "0011_room_announce_joins"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="reply_to_seq",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("reply_to_seq__isnull", False)),
                fields=["room", "reply_to_seq", "seq"],
                name="message_room_replies",
            ),
        ),
    ]
