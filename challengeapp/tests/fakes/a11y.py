"""What the accessibility tests share: axe-core run in the page (bundled by axe-playwright-python,
pinned in the dev lock, so nothing is fetched), a learner's history written straight into the
database, and measurements of what a learner sees (horizontal overflow, code cut at the edge).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from challengeapp.learning.attempts import attempt_record
from challengeapp.models import Challenge, ReviewCard, Verification

# A line wider than a phone's card: the learner must see all of it (or see that it scrolls).
LONG_LINE = "print([x * x for x in range(6) if x % 2], sorted({'beta': 2, 'alpha': 1}.items()))"
LONG_CODE = f"# squares of the odd numbers below six, and a dict's items in key order\n{LONG_LINE}"


@dataclass
class AxeAudit:
    """Runs axe-core on each state a test visits and keeps every violation, named by state, so one
    failing run lists them all."""

    label: str
    violations: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)

    def check(self, page, state: str) -> None:
        from axe_playwright_python.base import AXE_SCRIPT

        # axe-core is put in the page once per page load (an htmx swap keeps it), then run on the
        # whole document with its default rules (WCAG 2.x A and AA, and best practices).
        if page.evaluate("typeof window.axe === 'undefined'"):
            page.evaluate(AXE_SCRIPT)
        response = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        self.states.append(state)
        for violation in response["violations"]:
            targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
            self.violations.append(
                f"[{self.label}] {state}: {violation['id']} ({violation['impact']}) "
                f"{violation['help']} -> {targets}"
            )

    def assert_clean(self) -> None:
        assert self.violations == [], "axe-core violations:\n" + "\n".join(self.violations)


def bank_challenge(owner, index: int, **fields) -> Challenge:
    values = {
        "owner": owner,
        "difficulty": ("easy", "medium", "hard")[index % 3],
        "topic": ("python", "sql", "git")[index % 3],
        "title": f"Seeded challenge {index}",
        "question": f"Which call returns `{index}` here?",
        "options": [f"`f({index})`", str(index + 1), str(index + 2), "None of them"],
        "correct_index": 0,
        "explanation": f"Only `f({index})` returns {index}.",
        "provider": "bank",
        "source_key": f"bank:a11y-{index}",
        "verification": Verification.CURATED,
        **fields,
    }
    return Challenge.objects.create(**values)


def seed_history(owner, count: int) -> list[Challenge]:
    """`count` challenges, oldest first: every third unanswered, the rest alternately right and
    wrong; the newest carries a long code line."""
    made = []
    for index in range(count):
        extra = {"code": LONG_CODE, "code_language": "python"} if index == count - 1 else {}
        challenge = bank_challenge(owner, index, **extra)
        if index % 3 != 2:
            attempt_record(challenge=challenge, chosen_index=0 if index % 2 == 0 else 1)
        made.append(challenge)
    return made


def make_due(challenge: Challenge) -> None:
    ReviewCard.objects.filter(challenge=challenge).update(due_at=timezone.now() - dt.timedelta(seconds=5))


def make_nothing_due(owner) -> None:
    """Every card of the learner due in a month, misses included (a miss is otherwise due at once)."""
    ReviewCard.objects.filter(owner=owner).update(
        due_at=timezone.now() + dt.timedelta(days=30), missed_at=None
    )


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than the window (0 when nothing scrolls sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


# A code block wider than its box passes when it scrolls (overflow-x auto or scroll), can be
# scrolled with the keyboard (it takes focus) and shows its visible cue; one that fits passes.
CUT_CODE = """() => [...document.querySelectorAll('pre.code')].filter((pre) => pre.offsetParent !== null)
  .flatMap((pre) => {
    if (pre.scrollWidth <= pre.clientWidth + 1) return [];
    const style = getComputedStyle(pre);
    const cue = pre.parentElement.querySelector('.code-cue');
    const scrolls = ['auto', 'scroll'].includes(style.overflowX);
    const cueShown = cue !== null && cue.offsetParent !== null && cue.getBoundingClientRect().height > 0;
    return scrolls && pre.tabIndex === 0 && cueShown ? [] : [pre.textContent.slice(0, 60)];
  })"""


def cut_code_blocks(page) -> list[str]:
    """The visible code blocks whose lines are cut off with no sign that they scroll."""
    return page.evaluate(CUT_CODE)
