"""The full-text search index, one per database (migrations 0007 and 0010 apply it):
PostgreSQL: a GIN index on to_tsvector('simple', body);
SQLite: an FTS5 table kept in step with rooms_message by triggers."""

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


def _run(schema_editor, statements_by_vendor):
    for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


def forward(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD})


def backward(apps, schema_editor):
    _run(schema_editor, {"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD})
