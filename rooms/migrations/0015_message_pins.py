"""Pinned messages: when and by whom a message was pinned, a partial index for a room's
pins, and the two audit actions.

Both columns are nullable with no default: plain ALTER TABLE ... ADD COLUMN on SQLite,
not a table rebuild, so the FTS5 triggers of rooms_message survive (see 0010). A new
choice on ModerationAction.action changes no column."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("rooms", "0014_membership_notify_level"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="pinned_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="message",
            name="pinned_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="moderationaction",
            name="action",
            field=models.CharField(
                choices=[
                    ("delete_message", "Delete Message"),
                    ("mute", "Mute"),
                    ("unmute", "Unmute"),
                    ("ban", "Ban"),
                    ("unban", "Unban"),
                    ("lock", "Lock"),
                    ("unlock", "Unlock"),
                    ("archive", "Archive"),
                    ("appoint_moderator", "Appoint"),
                    ("dismiss_moderator", "Dismiss"),
                    ("deactivate_user", "Deactivate"),
                    ("pin_message", "Pin"),
                    ("unpin_message", "Unpin"),
                ],
                max_length=20,
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("pinned_at__isnull", False)),
                fields=["room", "pinned_at"],
                name="message_room_pins",
            ),
        ),
    ]
