from __future__ import annotations

from django import forms

from challengeapp.models import Difficulty, Topic
from challengeapp.services.history import RESULTS


class GenerateForm(forms.Form):
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


class AnswerForm(forms.Form):
    choice = forms.TypedChoiceField(
        choices=[(str(i), str(i + 1)) for i in range(4)],
        coerce=int,
        error_messages={
            "required": "Choose one of the four options.",
            "invalid_choice": "Choose one of the four options.",
        },
    )


class HistoryFilterForm(forms.Form):
    difficulty = forms.ChoiceField(choices=[("", "Any difficulty"), *Difficulty.choices], required=False)
    topic = forms.ChoiceField(choices=[("", "Any topic"), *Topic.choices], required=False)
    result = forms.ChoiceField(
        choices=[("", "Any result"), *[(r, r.capitalize()) for r in RESULTS]], required=False
    )
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class DevSignInForm(forms.Form):
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
