"""The HTML forms' door for rooms.input_checks: every text field of a form refuses
NUL and lone surrogates with a form error naming the field, so no view, service or
database driver meets them (PostgreSQL refuses NUL; no UTF-8 exists for "\\ud800")."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator

from rooms.input_checks import UnsafeInput, check_text


class StorableText:
    """A field validator: the value must be text the database can store."""

    code = "unstorable"

    def __init__(self, label: str):
        self.label = label

    def __call__(self, value) -> None:
        if not isinstance(value, str):
            return
        try:
            check_text(value, field=self.label)
        except UnsafeInput as exc:
            raise ValidationError(str(exc), code=self.code) from None


class StorableTextMixin:
    """Put first in a form's bases: after the form's own __init__ (which may set up
    fields, as AuthenticationForm does), every CharField gets StorableText in place
    of Django's NUL-only check, so a NUL gives one error, not two."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if isinstance(field, forms.CharField):
                label = str(field.label or name.replace("_", " ").capitalize())
                field.validators = [
                    v
                    for v in field.validators
                    if not isinstance(v, ProhibitNullCharactersValidator)
                ] + [StorableText(label)]
