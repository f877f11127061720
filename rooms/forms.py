from django import forms
from django.conf import settings

from chatsite.forms import StorableTextMixin


class RoomForm(StorableTextMixin, forms.Form):
    name = forms.CharField(label="Name", max_length=settings.CHAT_ROOM_NAME_MAX_LENGTH)
    topic = forms.CharField(label="Topic", max_length=250, required=False)
    temporary = forms.BooleanField(
        label="Temporary",
        required=False,
        help_text="Closes by itself after a while with no messages and nobody in it.",
    )
    announce_joins = forms.BooleanField(
        label="Announce new members",
        required=False,
        initial=True,
        help_text='Posts "alice joined" when someone joins for the first time.',
    )


class ConferenceForm(StorableTextMixin, forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=settings.CHAT_ROOM_NAME_MAX_LENGTH,
        required=False,
        help_text="Optional; by default the members' names.",
    )
    members = forms.CharField(
        label="Members", help_text="Two or more usernames, separated by commas or spaces."
    )

    def clean_members(self):
        return [u for u in self.cleaned_data["members"].replace(",", " ").split() if u]


class InviteForm(StorableTextMixin, forms.Form):
    usernames = forms.CharField(
        label="Invite", help_text="Usernames, separated by commas or spaces."
    )

    def clean_usernames(self):
        return [u for u in self.cleaned_data["usernames"].replace(",", " ").split() if u]
