"""The content gate on coding problems, rule by rule on drafts (the refusals through the real
generation path are in test_coding_generation.py), and the JavaScript signature check."""

from __future__ import annotations

import dataclasses

import pytest

from challengeapp.coding.curated import curated_problems
from challengeapp.coding.model_problems import function_defined
from challengeapp.coding.problem_gate import problem_gate_rule

PYTHON = next(p for p in curated_problems() if p.problem_id == "py-chunks")
JAVASCRIPT = next(p for p in curated_problems() if p.problem_id == "js-pluck")


def rule(problem, **changes) -> str:
    return problem_gate_rule(dataclasses.replace(problem, **changes), topic=problem.topic)


def test_sound_problems_pass_and_a_your_code_here_comment_is_ordinary_starter_code():
    assert "# Your code here" in PYTHON.starter_code and rule(PYTHON) == ""
    assert "// Your code here" in JAVASCRIPT.starter_code and rule(JAVASCRIPT) == ""
    assert rule(PYTHON, statement=PYTHON.statement + " TODO items count like any other element.") == ""
    assert rule(JAVASCRIPT, statement=JAVASCRIPT.statement + " Records follow one JSON schema.") == ""


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"title": "[Title]"}, "placeholder"),
        ({"statement": "TODO: describe the task properly before it ships."}, "placeholder"),
        ({"reference_solution": "function pluck(records, key) {\n  <insert code>\n}\n"}, "placeholder"),
        ({"statement": "Pluck values."}, "no_words"),
        ({"title": "Medium JavaScript function"}, "title_only_topic"),
        ({"statement": JAVASCRIPT.statement + " Return it in JSON format."}, "echoes_prompt"),
        ({"starter_code": JAVASCRIPT.reference_solution.replace("  ", "    ")}, "reference_is_starter"),
        ({"wrong_solution": " " + JAVASCRIPT.reference_solution}, "reference_is_wrong"),
        ({"hidden_tests": JAVASCRIPT.examples}, "hidden_tests_shown"),
        ({"hidden_tests": (*JAVASCRIPT.hidden_tests, JAVASCRIPT.examples[0])}, "duplicate_tests"),
        (
            {"hidden_tests": (*JAVASCRIPT.hidden_tests, {"args": '[ ], "x"', "expected": "[]"})},
            "duplicate_tests",
        ),
    ],
)
def test_each_rule_names_itself(changes, expected):
    assert rule(JAVASCRIPT, **changes) == expected


def test_some_hidden_tests_new_is_not_a_giveaway_but_one_repeated_is_a_duplicate():
    assert rule(PYTHON, hidden_tests=(*PYTHON.hidden_tests[:1], PYTHON.examples[0])) == "duplicate_tests"
    # `[1, 2]` and `(1, 2)` are different Python arguments.
    assert (
        rule(PYTHON, hidden_tests=(*PYTHON.hidden_tests, {"args": "(1, 2, 3, 4), 2", "expected": "[]"})) == ""
    )


@pytest.mark.parametrize(
    ("code", "defined"),
    [
        ("function pluck(records, key) {}", True),
        ("async function pluck(records) {}", True),
        ("function* pluck() {}", True),
        ("const pluck = (records, key) => [];", True),
        ("let pluck = function (records) {};", True),
        ("var pluck=function(){}", True),
        ("function pluckAll(records) {}", False),
        ("functionpluck(records) {}", False),
        ("helpers.pluck = () => 1;", False),
        ("// pluck(records, key)", False),
    ],
)
def test_a_javascript_function_is_defined_by_a_declaration_or_a_const_let_or_var(code, defined):
    assert function_defined(code, name="pluck", language="javascript") is defined
