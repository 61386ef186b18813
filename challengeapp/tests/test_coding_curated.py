"""The curated coding problems: enough of them, for every topic, language and difficulty the form
offers, each passing the content gate, and each checked the way a generated problem must be, in
the sandbox: the reference passes every test, the starter code and a plausible wrong solution each
fail at least one."""

from __future__ import annotations

import itertools

import pytest

from challengeapp.coding.curated import CODE_TOPICS, curated_problems
from challengeapp.coding.grading import suite_grade
from challengeapp.coding.languages import topic_languages
from challengeapp.coding.model_problems import function_defined
from challengeapp.coding.problem_gate import problem_gate_rule
from challengeapp.models import CodeLanguage, Difficulty, Topic

PROBLEMS = curated_problems()


def test_every_topic_language_and_difficulty_the_form_offers_has_problems():
    assert len(PROBLEMS) >= 39
    for topic in CODE_TOPICS:
        for language, difficulty in itertools.product(topic_languages(topic), Difficulty.values):
            count = sum(
                p.topic == topic and p.language == language and p.difficulty == difficulty for p in PROBLEMS
            )
            # Two of each in Python, three for the JavaScript topic, one elsewhere in JavaScript.
            least = 2 if language == CodeLanguage.PYTHON else 3 if topic == Topic.JAVASCRIPT else 1
            assert count >= least, (topic, language, difficulty)


def test_each_problem_shows_examples_and_keeps_hidden_tests_distinct_from_them():
    for problem in PROBLEMS:
        assert problem.examples and len(problem.hidden_tests) >= 2, problem.problem_id
        assert not {t["args"] for t in problem.examples} & {t["args"] for t in problem.hidden_tests}
        for code in (problem.starter_code, problem.reference_solution, problem.wrong_solution):
            assert function_defined(code, name=problem.function_name, language=problem.language)
        first = "function" if problem.language == CodeLanguage.JAVASCRIPT else "def"
        assert problem.signature.startswith(f"{first} {problem.function_name}("), problem.problem_id


def test_every_curated_problem_passes_the_content_gate():
    refused = {p.problem_id: problem_gate_rule(p, topic=p.topic) for p in PROBLEMS}
    assert {key: rule for key, rule in refused.items() if rule} == {}


def _passed(problem, code: str) -> tuple[int, int, str]:
    tests = [*problem.examples, *problem.hidden_tests]
    graded, message, _ = suite_grade(
        code=code, function_name=problem.function_name, tests=tests, language=problem.language
    )
    return sum(test.passed for test in graded), len(graded), message


@pytest.mark.parametrize("problem", PROBLEMS, ids=[p.problem_id for p in PROBLEMS])
def test_reference_passes_every_test_and_starter_and_wrong_solution_fail_one(sandbox, request, problem):
    if problem.language == CodeLanguage.JAVASCRIPT:
        request.getfixturevalue("node_sandbox")
    passed, total, message = _passed(problem, problem.reference_solution)
    assert (passed, message) == (total, "")
    for attempt in (problem.starter_code, problem.wrong_solution):
        passed, total, _ = _passed(problem, attempt)
        assert passed < total
