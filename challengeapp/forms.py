from __future__ import annotations

import re

from django import forms
from django.conf import settings

from challengeapp.content.reports import MAX_NOTE_CHARS
from challengeapp.learning.auto_difficulty import AUTO_DIFFICULTY, MOVE_MARGIN
from challengeapp.learning.history import RESULTS
from challengeapp.learning.review import RESET, RESUME, SUSPEND
from challengeapp.models import Confidence, Difficulty, ReportReason, Topic


class StrictIdField(forms.IntegerField):
    """A row id from a query string: ASCII digits only, 1 to 18 of them. Django's IntegerField
    takes any Unicode digits ("١٢") and any size, which overflows a 64-bit column."""

    def __init__(self, *, min_value: int = 1, **kwargs) -> None:
        super().__init__(min_value=min_value, max_value=10**18 - 1, **kwargs)

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


DIFFICULTY_CHOICES = [*Difficulty.choices, (AUTO_DIFFICULTY, "Auto")]
INVALID_DIFFICULTY = "Choose a difficulty: easy, medium, hard or auto."
INVALID_TOPIC = "Choose one of the listed topics."


def auto_help() -> str:
    low, high = settings.AUTO_DIFFICULTY_BAND
    margin = round(MOVE_MARGIN * 100)
    return (
        f"Auto keeps you at {low}–{high} % right, per topic: after {settings.AUTO_DIFFICULTY_WINDOW} first "
        f"answers at a level (and every {settings.AUTO_DIFFICULTY_RUN} after), above {high + margin} % of "
        f"the last {settings.AUTO_DIFFICULTY_WINDOW} steps up, under {low - margin} % steps down; only "
        "answers since the level last changed count."
    )


class GenerateForm(SingleValuedForm):
    difficulty = forms.ChoiceField(
        choices=DIFFICULTY_CHOICES,
        initial=Difficulty.EASY,
        widget=forms.RadioSelect,
        error_messages={"required": INVALID_DIFFICULTY, "invalid_choice": INVALID_DIFFICULTY},
    )
    topic = forms.ChoiceField(
        choices=Topic.choices,
        initial=Topic.PYTHON,
        error_messages={"required": INVALID_TOPIC, "invalid_choice": INVALID_TOPIC},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["difficulty"].help_text = auto_help()


class PracticePresetForm(SingleValuedForm):
    """The practice form's starting values from a link (`/?topic=sql&difficulty=medium`); a value
    that is not one of the choices is ignored."""

    difficulty = forms.ChoiceField(choices=DIFFICULTY_CHOICES, required=False)
    topic = forms.ChoiceField(choices=Topic.choices, required=False)

    def preset(self) -> dict[str, str]:
        if not self.is_valid() and self.non_field_errors():
            return {}  # a value given twice: no preset rather than a guess
        return {name: value for name, value in self.cleaned_data.items() if value}


class AnswerForm(SingleValuedForm):
    choice = forms.TypedChoiceField(
        choices=[(str(i), str(i + 1)) for i in range(4)],
        coerce=int,
        error_messages={
            "required": "Choose one of the four options.",
            "invalid_choice": "Choose one of the four options.",
        },
    )
    confidence = forms.ChoiceField(
        choices=Confidence.choices,
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Say you guessed, you knew it, or nothing."},
    )


INVALID_POSITION = "Choose one of the four options."
INVALID_CONFIDENCE = "Say you guessed, you knew it, or nothing."
STALE_FORM = "This review form is out of date; here is the review again."


class ReviewAnswerForm(SingleValuedForm):
    """A review answer: the position in this review's order, how sure the learner was, and the
    card's review count when it was shown (a double submit is then refused as stale)."""

    position = forms.TypedChoiceField(
        choices=[(str(i), str(i + 1)) for i in range(4)],
        coerce=int,
        error_messages={"required": INVALID_POSITION, "invalid_choice": INVALID_POSITION},
    )
    confidence = forms.ChoiceField(
        choices=Confidence.choices,
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": INVALID_CONFIDENCE},
    )
    expected_reviews = StrictIdField(
        min_value=0,
        widget=forms.HiddenInput,
        error_messages={
            "required": STALE_FORM,
            "invalid": STALE_FORM,
            "min_value": STALE_FORM,
            "max_value": STALE_FORM,
        },
    )


class LeechActionForm(SingleValuedForm):
    action = forms.ChoiceField(
        choices=[(RESET, "Reset"), (SUSPEND, "Suspend"), (RESUME, "Resume")],
        error_messages={
            "required": "Choose reset, suspend or resume.",
            "invalid_choice": "Choose reset, suspend or resume.",
        },
    )


class ReviewQueryForm(SingleValuedForm):
    """The review page's query: `answered` shows the result of that challenge's latest answer (in
    the option `order` it was shown in), `early` serves the soonest review even if not yet due,
    `stale` says a review form was answered already."""

    answered = StrictIdField(required=False)
    order = forms.RegexField(regex=r"\A[0-3]{4}\Z", required=False)
    early = forms.BooleanField(required=False)
    stale = forms.BooleanField(required=False)
    suspended = forms.BooleanField(required=False)


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


class ReportForm(SingleValuedForm):
    reason = forms.ChoiceField(
        choices=ReportReason.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what is wrong.", "invalid_choice": "Choose what is wrong."},
    )
    note = forms.CharField(required=False, max_length=MAX_NOTE_CHARS, strip=True)

    def clean_note(self) -> str:
        note = self.cleaned_data["note"]
        if "\x00" in note:
            raise forms.ValidationError("Use plain text.")
        return note
