from __future__ import annotations

import re

from django import forms

from challengeapp.models import Difficulty, Topic
from challengeapp.services.history import RESULTS


class StrictIdField(forms.IntegerField):
    """A row id from a query string: ASCII digits only, 1 to 18 of them. Django's IntegerField
    takes any Unicode digits ("١٢") and any size, which overflows a 64-bit column."""

    def __init__(self, **kwargs) -> None:
        super().__init__(min_value=1, max_value=10**18 - 1, **kwargs)

    def to_python(self, value):
        if value not in self.empty_values and not re.fullmatch(r"[0-9]{1,18}", str(value)):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class SingleValuedForm(forms.Form):
    """A form whose fields each come once: a field given twice is refused, not "the last wins"."""

    def clean(self):
        cleaned = super().clean()
        if hasattr(self.data, "getlist"):
            for name in self.fields:
                if len(self.data.getlist(name)) > 1:
                    raise forms.ValidationError(f"{self.fields[name].label or name} is given more than once.")
        return cleaned


class GenerateForm(SingleValuedForm):
    difficulty = forms.ChoiceField(
        choices=Difficulty.choices,
        initial=Difficulty.EASY,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a difficulty: easy, medium or hard.",
            "invalid_choice": "Choose a difficulty: easy, medium or hard.",
        },
    )
    topic = forms.ChoiceField(
        choices=Topic.choices,
        initial=Topic.PYTHON,
        error_messages={
            "required": "Choose one of the listed topics.",
            "invalid_choice": "Choose one of the listed topics.",
        },
    )


class AnswerForm(SingleValuedForm):
    choice = forms.TypedChoiceField(
        choices=[(str(i), str(i + 1)) for i in range(4)],
        coerce=int,
        error_messages={
            "required": "Choose one of the four options.",
            "invalid_choice": "Choose one of the four options.",
        },
    )


class HistoryFilterForm(SingleValuedForm):
    difficulty = forms.ChoiceField(choices=[("", "Any difficulty"), *Difficulty.choices], required=False)
    topic = forms.ChoiceField(choices=[("", "Any topic"), *Topic.choices], required=False)
    result = forms.ChoiceField(
        choices=[("", "Any result"), *[(r, r.capitalize()) for r in RESULTS]], required=False
    )
    before = StrictIdField(required=False, widget=forms.HiddenInput)


class DevSignInForm(SingleValuedForm):
    display_name = forms.CharField(
        max_length=60,
        strip=True,
        label="Display name",
        error_messages={"required": "Tell us what to call you."},
    )
    email = forms.EmailField(required=False, max_length=254, label="Email (optional)")

    def clean_display_name(self) -> str:
        name = " ".join(self.cleaned_data["display_name"].split())
        if not name:
            raise forms.ValidationError("Tell us what to call you.")
        if any(ord(ch) < 32 for ch in name):
            raise forms.ValidationError("Use letters, digits and spaces.")
        return name
