"""Content identity: which challenges are the same piece of content, for the duplicate check,
learners' reports, and operators' retirements and corrections alike.

A piece of content is what the learner sees: the question, the code and its language, and the set
of options (in any order: each learner gets their own shuffle). Models phrase many questions alike
("What does the following code print?"), so the question alone would make unrelated snippets one
piece of content, and one operator's decision would reach them all.

Keys by source: a bank entry is `bank:<entry id>` (its data file is the content, curated and
stable); a procedural snippet is `proc:<generator>:<digest of its code>` (the code determines the
options and the key); a model's challenge is `model:` and a digest of `content_key`'s fields.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

MODEL_PREFIX = "model:"


def _question_form(question: str) -> str:
    # Case and spacing of the prose change nothing a learner answers.
    return " ".join(question.casefold().split())


def _code_form(code: str) -> str:
    # Line endings and trailing spaces do not change what code does; case and indentation can.
    lines = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def option_form(option: str) -> str:
    """How two options are the same option: line endings and surrounding spaces aside. Case is
    kept: it can be the meaning ("True" in Python, "true" in JavaScript)."""
    return _code_form(option).strip()


def content_key(*, question: str, code: str, language: str, options: Iterable[str]) -> str:
    """The key of a model's challenge: a digest of its question, code, code language and options."""
    fields = [
        _question_form(question),
        _code_form(code),
        (language or "").strip().lower() if code.strip() else "",
        sorted(option_form(option) for option in options),
    ]
    digest = hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode("utf-8")).hexdigest()
    return MODEL_PREFIX + digest[:40]
