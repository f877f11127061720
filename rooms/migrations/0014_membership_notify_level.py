# Replaces Membership.notifications_muted by notify_level: a muted room becomes
# "nothing", every other membership keeps the room kind's default (blank).

from django.db import migrations, models


def muted_to_nothing(apps, schema_editor):
    Membership = apps.get_model("rooms", "Membership")
    Membership.objects.filter(notifications_muted=True).update(notify_level="nothing")


def nothing_to_muted(apps, schema_editor):
    Membership = apps.get_model("rooms", "Membership")
    Membership.objects.filter(notify_level="nothing").update(notifications_muted=True)


class Migration(migrations.Migration):
    dependencies = [
        ("rooms", "0013_guests"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="notify_level",
            field=models.CharField(
                blank=True,
                choices=[
                    ("all", "Everything"),
                    ("mentions", "Mentions only"),
                    ("nothing", "Nothing"),
                ],
                default="",
                max_length=8,
            ),
        ),
        migrations.RunPython(muted_to_nothing, nothing_to_muted),
        migrations.RemoveField(
            model_name="membership",
            name="notifications_muted",
        ),
    ]
