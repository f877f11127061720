"""Threads (rooms/threads.py): a reply kept in its thread, and on every message its
reply count and newest reply.

`reply_count` and `thread_only` are NOT NULL with a default, so SQLite rebuilds
rooms_message to add them, which drops its FTS5 triggers: they are put back and the
index rebuilt, as 0010 explains. PostgreSQL adds the columns in place."""

from django.db import migrations, models

from rooms.migrations import _message_search


class Migration(migrations.Migration):
    dependencies = [
        ("rooms", "0016_message_attachments"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="last_reply_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="message",
            name="last_reply_seq",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="message",
            name="reply_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="message",
            name="thread_only",
            field=models.BooleanField(default=False),
        ),
        # Backward: the rebuild that undoes the fields drops the triggers again; 0010's
        # forward (run by migrating forward) restores them, so nothing to do here.
        migrations.RunPython(_message_search.forward, migrations.RunPython.noop),
    ]
