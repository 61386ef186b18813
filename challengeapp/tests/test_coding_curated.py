"""The curated coding problems: enough of them, for every topic and difficulty, and each checked
the way a generated problem must be, in the sandbox: the reference passes every test, the starter
code and a plausible wrong solution each fail at least one."""

from __future__ import annotations

import itertools

import pytest

from challengeapp.coding.curated import CODE_TOPICS, curated_problems
from challengeapp.coding.grading import suite_grade
from challengeapp.models import Difficulty

PROBLEMS = curated_problems()


def test_at_least_24_problems_cover_every_coding_topic_and_difficulty():
    assert len(PROBLEMS) >= 24
    for topic, difficulty in itertools.product(CODE_TOPICS, Difficulty.values):
        assert sum(p.topic == topic and p.difficulty == difficulty for p in PROBLEMS) >= 2, (
            topic,
            difficulty,
        )


def test_each_problem_shows_examples_and_keeps_hidden_tests_distinct_from_them():
    for problem in PROBLEMS:
        assert problem.examples and len(problem.hidden_tests) >= 2, problem.problem_id
        assert not {t["args"] for t in problem.examples} & {t["args"] for t in problem.hidden_tests}
        assert f"def {problem.function_name}(" in problem.starter_code
        assert problem.signature.startswith(f"def {problem.function_name}(")


def _passed(problem, code: str) -> tuple[int, int, str]:
    tests = [*problem.examples, *problem.hidden_tests]
    graded, message, _ = suite_grade(code=code, function_name=problem.function_name, tests=tests)
    return sum(test.passed for test in graded), len(graded), message


@pytest.mark.parametrize("problem", PROBLEMS, ids=[p.problem_id for p in PROBLEMS])
def test_reference_passes_every_test_and_starter_and_wrong_solution_fail_one(sandbox, problem):
    passed, total, message = _passed(problem, problem.reference_solution)
    assert (passed, message) == (total, "")
    for attempt in (problem.starter_code, problem.wrong_solution):
        passed, total, _ = _passed(problem, attempt)
        assert passed < total
