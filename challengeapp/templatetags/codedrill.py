"""Template helpers: server-side code highlighting, inline code in text, and human durations."""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

from django import template
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

from challengeapp.quality.sandbox import sandbox_language_versions, sandbox_python_version, snippet_language

register = template.Library()

_formatter = HtmlFormatter(nowrap=True)

# Pygments' lexers are regular expressions, and some of them take time that grows faster than the
# input on hostile text (the bash lexer's here-document rule on `<<` and one long word is about
# cubic). Snippets longer than this are shown as plain, escaped text, which bounds the
# time any snippet can cost; every bank snippet, and a question's worth of code, fits within it.
HIGHLIGHT_MAX_CHARS = 1500


@lru_cache(maxsize=512)
def _highlighted(code: str, language: str) -> str:
    if len(code) > HIGHLIGHT_MAX_CHARS:
        return escape(code)
    try:
        lexer = get_lexer_by_name(language or "text", stripnl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False)
    # Pygments escapes every character of the code it emits; the spans carry only its own classes.
    return highlight(code, lexer, _formatter)


@register.simple_tag
def code_block(code: str, language: str) -> SafeString:
    """The snippet in a focusable, named scroll region: a long line scrolls sideways (by keyboard
    too) rather than being cut at the card's edge, and the cue under it says so when it does (the
    script marks the block `data-overflowing`; without the script, lines wrap instead)."""
    label = language or "text"
    return format_html(
        '<div class="code-block"><pre class="code" tabindex="0" role="region" aria-label="Code snippet ({})">'
        '<code class="highlight">{}</code></pre>'
        '<p class="code-cue" aria-hidden="true">Scroll sideways to see each whole line</p></div>',
        label,
        mark_safe(_highlighted(code, label)),
    )


# A span of inline code as models write it: `text` between single backticks, on one line.
_INLINE_CODE = re.compile(r"`([^`\n]+)`")


@register.filter(needs_autoescape=False)
def inline_code(text: str) -> SafeString:
    """Text with its `backticked` spans shown as <code>: everything is escaped first, so the only
    markup in the result is the <code> elements this adds (a backtick is not escaped, and the span
    inside is already escaped text)."""
    return mark_safe(_INLINE_CODE.sub(r"<code>\1</code>", escape(str(text))))


@register.simple_tag
def sandbox_runtime(language: str) -> str:
    """What runs code in `language` to check keys ("Python 3.11", "Node.js 20.20.2", "SQLite
    3.40.1"): the same fact the model is told in its prompt."""
    try:
        canonical = snippet_language(language or "python")
    except ValueError:
        canonical = "python"
    return sandbox_language_versions().get(canonical) or f"Python {sandbox_python_version()}"


@register.filter
def resets_in(moment: dt.datetime) -> str:
    """'3 h 12 min', '45 min', 'under a minute'."""
    seconds = int((moment - timezone.now()).total_seconds())
    if seconds < 60:
        return "under a minute"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
