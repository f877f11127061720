"""One user with an API token and one public room per history size, made through the
project's own services; prints them as JSON for bench.scenarios.history.

Run with the workers' environment (DJANGO_SETTINGS_MODULE, DATABASE_URL, REDIS_URL,
CHANNEL_PREFIX), after `migrate`:

    python -m bench.history_setup --sizes 1000,1000000 --tag abc123

Output: {"user_id": id, "token": secret, "rooms": {"<size>": room_id, ...}}. The rooms
are empty: the scenario fills them with SQL, which is seconds instead of hours.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def build(*, sizes: list[int], tag: str) -> dict:
    from django.contrib.auth import get_user_model

    from accounts import services as account_services
    from rooms import services as room_services

    # password=None: an unusable password skips the slow hash; the bench uses the token.
    user = get_user_model().objects.create_user(username=f"history-{tag}", password=None)
    token = account_services.token_create(user=user, name="history bench")[1]
    rooms = {
        str(size): room_services.room_create(creator=user, name=f"history {tag} {size}").id
        for size in sizes
    }
    return {"user_id": user.id, "token": token, "rooms": rooms}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", required=True, help="comma-separated message counts")
    parser.add_argument("--tag", required=True, help="makes the username unique")
    args = parser.parse_args(argv)
    sizes = [int(value) for value in args.sizes.split(",") if value.strip()]

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    import django

    django.setup()
    json.dump(build(sizes=sizes, tag=args.tag), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
