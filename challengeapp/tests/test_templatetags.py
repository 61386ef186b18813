"""Code highlighting: escaped always, coloured when it is cheap, never slow on hostile input."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.template import Context, Template

from challengeapp.templatetags import codedrill


def render(code: str, language: str) -> str:
    return Template("{% load codedrill %}{% code_block code language %}").render(
        Context({"code": code, "language": language})
    )


def visible_text(html: str) -> str:
    """What a reader sees of highlighted code: the markup's text, unescaped."""
    return html_lib.unescape(re.sub(r"<[^>]+>", "", html))


def test_code_is_highlighted_and_escaped():
    code = 'print("<b>&</b>")'
    html = render(code, "python")
    # Coloured (how Pygments splits the tokens and names their classes is its own business), with
    # every character of the code shown as written, and none of it read as markup.
    assert '<span class="' in html
    assert code in visible_text(html)
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in html and "<b>" not in html


@pytest.mark.parametrize(
    ("code", "language"),
    [
        # Pygments' bash lexer backtracks on a here-document marker followed by one long word:
        # its time grows faster than the square of the length.
        ("<<" + "x" * 3998, "bash"),
        ("<<'" + "x" * 3997, "bash"),
        ("<b>" * 1000, "html"),
    ],
)
def test_a_snippet_past_the_bound_is_shown_plain_and_never_lexed(code, language, monkeypatch):
    assert len(code) > codedrill.HIGHLIGHT_MAX_CHARS

    def no_lexing(*args, **kwargs):
        raise AssertionError("a snippet past the bound reached a lexer")

    monkeypatch.setattr(codedrill, "highlight", no_lexing)
    codedrill._highlighted.cache_clear()

    html = render(code, language)

    assert "<span" not in html
    assert code.replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#x27;") in html


def test_every_bank_snippet_is_within_the_bound():
    from challengeapp.content.bank.loader import bank_entries

    assert max(len(entry.draft.code) for entry in bank_entries()) <= codedrill.HIGHLIGHT_MAX_CHARS
