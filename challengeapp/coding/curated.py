"""The curated coding problems: original problems stored as TOML under coding/data/, one file per
topic, each with a reference solution that passes every test and a starter and a plausible wrong
solution that each fail one (checked in the sandbox by the test suite). A problem is in its
topic's language (javascript.toml: JavaScript, python.toml: Python); in algorithms.toml and
data-structures.toml, in Python unless it says `language = "javascript"`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from challengeapp.coding.languages import problem_language, test_values
from challengeapp.models import Difficulty, Topic

DATA_DIR = Path(__file__).resolve().parent / "data"
# The topics a coding problem can have: the programming ones a function can be written for.
CODE_TOPICS = (Topic.PYTHON, Topic.JAVASCRIPT, Topic.ALGORITHMS, Topic.DATA_STRUCTURES)


class CuratedDataError(Exception):
    """A curated problem file is malformed: a defect in the project, found by the test suite."""


@dataclass(frozen=True)
class CuratedProblem:
    problem_id: str
    difficulty: str
    topic: str
    language: str
    title: str
    statement: str
    function_name: str
    signature: str
    starter_code: str
    wrong_solution: str
    reference_solution: str
    explanation: str
    examples: tuple[dict, ...]
    hidden_tests: tuple[dict, ...]

    @property
    def source_key(self) -> str:
        return f"code:{self.problem_id}"


def _tests(raw: object, *, where: str, language: str) -> tuple[dict, ...]:
    if not isinstance(raw, list) or not raw:
        raise CuratedDataError(f"{where}: tests must be a non-empty list")
    tests = []
    for pair in raw:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
            raise CuratedDataError(f"{where}: each test is [arguments, expected]")
        try:
            test_values(args=pair[0], expected=pair[1], language=language)
        except ValueError as error:
            raise CuratedDataError(f"{where}: {pair!r}: {error}") from error
        tests.append({"args": pair[0], "expected": pair[1]})
    return tuple(tests)


def _problem(raw: dict, *, topic: str, path: Path) -> CuratedProblem:
    where = f"{path.name}: {raw.get('id')}"
    try:
        language = problem_language(topic=topic, language=raw.get("language"))
    except ValueError as error:
        raise CuratedDataError(f"{where}: {error}") from error
    try:
        problem = CuratedProblem(
            problem_id=raw["id"],
            difficulty=raw["difficulty"],
            topic=topic,
            language=language,
            title=raw["title"],
            statement=raw["statement"].strip(),
            function_name=raw["function"],
            signature=raw["signature"],
            starter_code=raw["starter"].strip("\n") + "\n",
            wrong_solution=raw["wrong"].strip("\n") + "\n",
            reference_solution=raw["reference"].strip("\n") + "\n",
            explanation=raw["explanation"].strip(),
            examples=_tests(raw["examples"], where=where, language=language),
            hidden_tests=_tests(raw["hidden"], where=where, language=language),
        )
    except (KeyError, AttributeError) as error:
        raise CuratedDataError(f"{where}: missing or malformed {error}") from error
    if problem.difficulty not in Difficulty.values or not problem.function_name.isidentifier():
        raise CuratedDataError(f"{where}: bad difficulty or function name")
    return problem


@cache
def curated_problems() -> tuple[CuratedProblem, ...]:
    problems = []
    for topic in CODE_TOPICS:
        path = DATA_DIR / f"{topic}.toml"
        with path.open("rb") as file:
            data = tomllib.load(file)
        problems += [_problem(raw, topic=topic, path=path) for raw in data.get("problem", [])]
    ids = [problem.problem_id for problem in problems]
    if len(ids) != len(set(ids)):
        raise CuratedDataError("two curated problems share an id")
    return tuple(problems)
