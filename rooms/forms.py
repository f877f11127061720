from django import forms
from django.conf import settings


class RoomForm(forms.Form):
    name = forms.CharField(label="Name", max_length=settings.CHAT_ROOM_NAME_MAX_LENGTH)
    topic = forms.CharField(label="Topic", max_length=250, required=False)
