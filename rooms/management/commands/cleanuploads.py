from django.core.management.base import BaseCommand

from rooms.attachments import uploads_remove_unused


class Command(BaseCommand):
    help = (
        "Remove uploads never sent with a message within CHAT_UPLOAD_UNUSED_TTL seconds "
        "(each upload also clears its uploader's old ones; run this from cron for the rest)."
    )

    def handle(self, *args, **options):
        removed = uploads_remove_unused()
        self.stdout.write(f"Removed {removed} unused upload(s).")
