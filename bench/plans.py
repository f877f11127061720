"""PostgreSQL query plans of the history reads, in a room of 1,000,000 messages and
one of 1,000 (docs/query-plans.md shows the output).

    python -m bench.plans --database chatplans   # creates, migrates, loads, explains

Loads rows with generate_series (seconds, not minutes), then prints
EXPLAIN (ANALYZE) of the exact queries rooms.selectors.messages_page runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
LOAD_SQL = """
INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email,
    is_staff, is_active, date_joined, display_name, bio)
VALUES ('!', false, 'bench', '', '', '', false, true, now(), 'Bench', '');
INSERT INTO rooms_room (name, slug, kind, topic, created, last_seq, last_rev, is_archived,
    is_locked, is_temporary)
VALUES ('big', 'big', 'public', '', now(), 1000000, 1000000, false, false, false),
       ('small', 'small', 'public', '', now(), 1000, 1000, false, false, false);
INSERT INTO rooms_message (room_id, seq, rev, kind, author_id, body, created, deleted, reactions)
SELECT r.id, g, g, 'text', u.id, 'message number ' || g, now(), false, '{}'::jsonb
FROM rooms_room r, accounts_user u, generate_series(1, r.last_seq) g;
ANALYZE;
"""


def psql(url: str, sql: str) -> None:
    subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1"], input=sql, text=True, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plans")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="chatplans")
    args = parser.parse_args()
    url = f"{args.server}/{args.database}"
    psql(f"{args.server}/postgres", f"DROP DATABASE IF EXISTS {args.database};")
    psql(f"{args.server}/postgres", f"CREATE DATABASE {args.database};")
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=PROJECT_DIR, env=env, check=True
    )
    psql(url, LOAD_SQL)
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="chatsite.settings")
    sys.path.insert(0, str(PROJECT_DIR))
    import django

    django.setup()
    from django.db import connection

    from rooms.models import Message, Room

    for label, slug in (("1,000,000", "big"), ("1,000", "small")):
        room = Room.objects.get(slug=slug)
        middle = room.last_seq // 2
        base = Message.objects.filter(room=room).select_related("author")
        reads = {
            "newest page": base.order_by("-seq")[:51],
            f"before={middle}": base.filter(seq__lt=middle).order_by("-seq")[:51],
            f"after={middle}": base.filter(seq__gt=middle).order_by("seq")[:51],
        }
        for name, query in reads.items():
            sql, params = query.query.sql_with_params()
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            print(f"### {label} messages: {name}\n\n```\n{plan}\n```\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
