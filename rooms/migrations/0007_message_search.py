"""Full-text search over message bodies, one index per database:
PostgreSQL: a GIN index on to_tsvector('simple', body);
SQLite: an FTS5 table kept in step with rooms_message by triggers."""

from django.db import migrations

POSTGRES_FORWARD = [
    "CREATE INDEX IF NOT EXISTS message_body_fts ON rooms_message "
    "USING GIN (to_tsvector('simple', body))",
]
POSTGRES_BACKWARD = ["DROP INDEX IF EXISTS message_body_fts"]

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS rooms_message_fts USING fts5("
    "body, content='rooms_message', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS rooms_message_fts_insert AFTER INSERT ON rooms_message BEGIN "
    "INSERT INTO rooms_message_fts(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER IF NOT EXISTS rooms_message_fts_delete AFTER DELETE ON rooms_message BEGIN "
    "INSERT INTO rooms_message_fts(rooms_message_fts, rowid, body) VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER IF NOT EXISTS rooms_message_fts_update AFTER UPDATE OF body ON rooms_message BEGIN "
    "INSERT INTO rooms_message_fts(rooms_message_fts, rowid, body) VALUES ('delete', old.id, old.body); "
    "INSERT INTO rooms_message_fts(rowid, body) VALUES (new.id, new.body); END",
    "INSERT INTO rooms_message_fts(rooms_message_fts) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS rooms_message_fts_insert",
    "DROP TRIGGER IF EXISTS rooms_message_fts_delete",
    "DROP TRIGGER IF EXISTS rooms_message_fts_update",
    "DROP TABLE IF EXISTS rooms_message_fts",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("rooms", "0006_mention")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        )
    ]
