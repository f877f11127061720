"""Full-text search over message bodies (see _message_search)."""

from django.db import migrations

from rooms.migrations import _message_search


class Migration(migrations.Migration):
    dependencies = [("rooms", "0006_mention")]

    operations = [
        migrations.RunPython(_message_search.forward, _message_search.backward),
    ]
