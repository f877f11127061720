"""SQLite rebuilds a table to alter it (0009 did, for rooms_message), and the rebuild
drops the table's triggers: put the FTS5 triggers back and re-index. Any later
migration that alters rooms_message on SQLite must do the same."""

from django.db import migrations

from rooms.migrations import _message_search


class Migration(migrations.Migration):
    dependencies = [("rooms", "0009_message_room_index_is_room_seq")]

    operations = [
        migrations.RunPython(_message_search.forward, _message_search.backward),
    ]
