import asyncio

from django.core.management.base import BaseCommand

from rooms.realtime.cleanup import close_idle_rooms


class Command(BaseCommand):
    help = "Archive temporary rooms that have been idle, with nobody connected (idempotent)."

    def handle(self, *args, **options):
        closed = asyncio.run(close_idle_rooms())
        self.stdout.write(f"Closed {len(closed)} idle temporary room(s).")
