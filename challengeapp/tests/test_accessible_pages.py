"""What the pages say and where, as a screen reader, a phone or a learner scanning history meets it:
inline code shown as code (and escaped first), the history summary, the spent quota offering reviews,
the challenge page's heading, one persistent status region, token colours that meet 4.5:1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.template import Context, Template

from challengeapp.learning.attempts import attempt_record
from challengeapp.learning.history import history_summary
from challengeapp.models import Quota
from challengeapp.tests.fakes.a11y import make_due
from challengeapp.tests.test_views import HTMX, body, make_challenge

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "codedrill.css"


def inline(text: str) -> str:
    return Template("{% load codedrill %}{{ text|inline_code }}").render(Context({"text": text}))


# --- Inline code -----------------------------------------------------------------------------------


def test_backticked_spans_become_code_and_everything_else_stays_text():
    assert inline("Call `len(items)` on `items`.") == "Call <code>len(items)</code> on <code>items</code>."
    assert inline("a ` lone backtick") == "a ` lone backtick"
    # Escaped before the spans are found: markup inside or outside a span is text.
    html = inline('`<script>alert(1)</script>` and <img src=x onerror="alert(2)">')
    assert html.startswith("<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>")
    assert "<img" not in html and "<script" not in html
    # A span never crosses a line break.
    assert inline("`a\nb`") == "`a\nb`"


@pytest.mark.django_db
def test_inline_code_shows_in_question_options_and_explanation(learner_client, learner):
    challenge = make_challenge(
        learner,
        question="What does `len([])` return?",
        options=["`0`", "`None`", "1", "An error"],
        correct_index=0,
        explanation="`len` of an empty list is `0`.",
    )
    question = body(learner_client.get(f"/challenges/{challenge.id}/"))
    assert "What does <code>len([])</code> return?" in question
    assert '<span class="option-text"><code>0</code></span>' in question
    answered = body(learner_client.post(f"/challenges/{challenge.id}/answer/", {"choice": "0"}, **HTMX))
    assert "<code>len</code> of an empty list is <code>0</code>." in answered
    history = body(learner_client.get("/history/"))
    assert "<code>len</code> of an empty list is <code>0</code>." in history


# --- History ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_history_says_how_many_and_how_many_right_under_its_filters(learner_client, learner):
    right = make_challenge(learner, title="Right one", topic="sql")
    wrong = make_challenge(learner, title="Wrong one", topic="sql")
    make_challenge(learner, title="Open one", topic="git")
    attempt_record(challenge=right, chosen_index=right.correct_index)
    attempt_record(challenge=wrong, chosen_index=(wrong.correct_index + 1) % 4)

    assert history_summary(user=learner).__dict__ == {"challenges": 3, "answered": 2, "right": 1}
    page = body(learner_client.get("/history/"))
    assert "3 challenges: 2 answered, 1 right (50 %)." in page
    # Labels a sighted learner can read, not only a screen reader.
    assert re.search(r"<label><span>Difficulty</span>", page)
    filtered = body(
        learner_client.get("/history/?topic=sql&result=right", HTTP_HX_TARGET="history-list", **HTMX)
    )
    assert "1 challenge match these filters: 1 answered, 1 right (100 %)." in filtered


@pytest.mark.django_db
def test_history_is_one_compact_row_per_challenge_that_opens_to_the_card(learner_client, learner):
    challenge = make_challenge(learner, title="Compact")
    attempt_record(challenge=challenge, chosen_index=challenge.correct_index)
    page = body(learner_client.get("/history/"))
    row = re.search(r'<summary class="history-row">(.*?)</summary>', page, re.S).group(1)
    for fact in ["Compact", "Easy", "Python", "Right", "<time datetime="]:
        assert fact in row
    assert "Which value is falsy?" not in row  # the question is inside, shown when the row opens
    assert f'href="/challenges/{challenge.id}/"' in page


# --- Practice and the challenge page ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_spent_quota_says_so_on_the_button_and_offers_the_reviews_due(learner_client, learner):
    challenge = make_challenge(learner)
    # Answered right: a miss would be due again at once.
    attempt_record(challenge=challenge, chosen_index=challenge.correct_index)
    Quota.objects.filter(user=learner).update(daily_limit=0)
    page = body(learner_client.get("/"))
    assert re.search(r'<button id="generate-button"[^>]* disabled>Quota spent: resets in', page)

    on_practice = {**HTMX, "HTTP_HX_CURRENT_URL": "http://testserver/?topic=sql"}
    htmx = body(
        learner_client.post("/challenges/generate/", {"difficulty": "easy", "topic": "sql"}, **on_practice)
    )
    assert "You have used all of today&#x27;s challenges." in htmx
    assert "Nothing is due for review right now." in htmx
    assert (
        'id="generate-button" type="submit" class="button button-primary" disabled hx-swap-oob="true"' in htmx
    )

    # A challenge's own page has no Generate button to refresh.
    elsewhere = {**HTMX, "HTTP_HX_CURRENT_URL": f"http://testserver/challenges/{challenge.id}/"}
    htmx = body(
        learner_client.post("/challenges/generate/", {"difficulty": "easy", "topic": "sql"}, **elsewhere)
    )
    assert "generate-button" not in htmx

    make_due(challenge)
    htmx = body(learner_client.post("/challenges/generate/", {"difficulty": "easy", "topic": "sql"}, **HTMX))
    assert '<a class="button button-primary" href="/review/">Review (1 due)</a>' in htmx
    # The answered card offers the same instead of a "Next" that cannot work.
    card = body(learner_client.get(f"/challenges/{challenge.id}/"))
    assert "Review (1 due)" in card and "Next easy" not in card


@pytest.mark.django_db
def test_the_challenge_page_has_a_main_heading(learner_client, learner):
    challenge = make_challenge(learner, difficulty="medium", topic="sql")
    page = body(learner_client.get(f"/challenges/{challenge.id}/"))
    assert re.search(r"<h1[^>]*>Medium SQL challenge</h1>", page)


@pytest.mark.django_db
def test_one_status_region_is_kept_and_swapped_regions_are_not_live(learner_client, learner):
    page = body(learner_client.get("/"))
    assert page.count('role="status"') == 1 and 'id="status-message"' in page
    htmx = body(learner_client.post("/challenges/generate/", {"difficulty": "easy", "topic": "git"}, **HTMX))
    assert "aria-live" not in htmx and 'role="status"' not in htmx
    assert 'data-announce="New challenge: ' in htmx
    for path in ["/history/", "/review/"]:
        assert body(learner_client.get(path)).count("aria-live") == 1  # the status region only


# --- Colours --------------------------------------------------------------------------------------------


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted([luminance(a), luminance(b)], reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_code_token_colour_is_readable_on_the_code_background(theme):
    css = CSS.read_text()
    variables: dict[str, str] = {}
    for block in re.findall(rf'\[data-theme="{theme}"\][^{{]*\{{([^}}]*)\}}', css):
        variables.update(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", block))
    tokens = {name: value for name, value in variables.items() if name.startswith("tok-")}
    assert len(tokens) == 9
    low = {name: round(contrast(value, variables["code-bg"]), 2) for name, value in tokens.items()}
    assert {name: ratio for name, ratio in low.items() if ratio < 4.5} == {}
