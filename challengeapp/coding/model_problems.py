"""Coding problems written by the model (OPENAI_API_KEY set), served only once verified.

The model answers under a strict JSON schema (CODE_PROBLEM_SCHEMA): a statement, a function and
its signature, starter code, examples and hidden tests (arguments and expected values as Python
literals for a Python problem, as JSON for a JavaScript one), a reference solution, a plausible
wrong solution and an explanation. The prompt names the language and the version the sandbox runs
(`sandbox_language_versions()`). What the model wrote is parsed defensively and validated field by
field; then the content gate (coding/problem_gate.py) refuses schema-valid nonsense; then, in the
sandbox, the reference must pass every test and the starter code and the wrong solution must each
fail at least one, or the problem is refused (CodeProblemRefused, a GenerationError with its cause,
and for the gate its rule): the learner's quota unit goes back, nothing is stored, and problems.py
logs one line.
"""

from __future__ import annotations

import hashlib
import keyword
import re
from dataclasses import dataclass, replace

from django.conf import settings

from challengeapp.coding.allowance import RunRefused
from challengeapp.coding.grading import suite_grade
from challengeapp.coding.languages import test_values
from challengeapp.coding.problem_gate import problem_gate_rule
from challengeapp.core.errors import GenerationError, InvalidModelOutput
from challengeapp.generation.parsing import first_valid_object
from challengeapp.models import CodeLanguage, Difficulty, Topic
from challengeapp.quality.sandbox import sandbox_language_versions, sandbox_python_version

SCHEMA_NAME = "coding_problem"
MAX_TITLE_CHARS = 120
MAX_TEXT_CHARS = 4000
MAX_TEST_CHARS = 500
MIN_EXAMPLES, MAX_EXAMPLES = 1, 5
MIN_HIDDEN, MAX_HIDDEN = 2, 20
# The longest answer read beside its three code fields (each at most CODE_MAX_SUBMISSION_BYTES):
# two texts and 25 tests at their limits, with room for JSON escaping and a fence or some prose.
ANSWER_CHARS_BESIDE_CODE = 90_000

_TEST_SCHEMA = {
    "type": "object",
    "properties": {
        "args": {
            "type": "string",
            "description": "The call's arguments as written in the call, comma-separated: Python literals "
            "for a Python problem, JSON values for a JavaScript one.",
        },
        "expected": {
            "type": "string",
            "description": "The value the function must return: a Python literal for a Python problem, a "
            "JSON value for a JavaScript one.",
        },
    },
    "required": ["args", "expected"],
    "additionalProperties": False,
}
CODE_PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "statement": {"type": "string", "description": "What the function must do, with its edge cases."},
        "function_name": {"type": "string"},
        "signature": {
            "type": "string",
            "description": "Python: def name(params) -> type, with type hints. JavaScript: function name(params).",
        },
        "starter_code": {
            "type": "string",
            "description": "The function's first line as in the signature and a body that does not solve it.",
        },
        "examples": {
            "type": "array",
            "items": _TEST_SCHEMA,
            "description": "1 to 5 tests shown to the learner.",
        },
        "hidden_tests": {
            "type": "array",
            "items": _TEST_SCHEMA,
            "description": "2 to 20 tests, edge cases included.",
        },
        "reference_solution": {"type": "string"},
        "wrong_solution": {
            "type": "string",
            "description": "A plausible mistake (such as an off-by-one) that fails a test.",
        },
        "explanation": {"type": "string"},
    },
    "required": [
        "title",
        "statement",
        "function_name",
        "signature",
        "starter_code",
        "examples",
        "hidden_tests",
        "reference_solution",
        "wrong_solution",
        "explanation",
    ],
    "additionalProperties": False,
}

SYSTEM_PROMPT = (
    "You write interview-style coding problems for CodeDrill: one {language} function to write, "
    "pure (no input, files, network or randomness), {returns} Answer with one JSON object with "
    "exactly the fields of the schema. {tests} The reference solution must pass every test; the "
    "starter code and the wrong solution must each fail at least one. CodeDrill runs all three "
    "before a learner sees the problem."
)
LANGUAGE_PROMPTS = {
    CodeLanguage.PYTHON: {
        "language": "{python}",
        "returns": "returning plain values (numbers, strings, booleans, None, lists, tuples, dicts, sets).",
        "tests": "Every test's arguments and expected value are Python literals. The signature is "
        "`def name(params) -> type`.",
    },
    CodeLanguage.JAVASCRIPT: {
        "language": "JavaScript (run by {javascript} as a CommonJS script: require, no top-level await)",
        "returns": "returning plain JSON values (null, booleans, finite numbers, strings, arrays, plain "
        "objects; never undefined, a Map or a Set).",
        "tests": "Every test's arguments are JSON values separated by commas, as written in the call "
        '(`[1, 2], "a"`), and its expected value is one JSON value (double-quoted strings, null, true, '
        "false). The signature is `function name(params)`, and the starter code, the reference and the "
        "wrong solution each declare that function.",
    },
}
# Where the sandbox cannot run JavaScript here, nothing will verify the problem; the prompt still
# names one version.
DEFAULT_JAVASCRIPT_VERSION = "Node.js 20"
DIFFICULTY_GUIDANCE = {
    Difficulty.EASY: "a warm-up: one loop or one data structure, a few lines",
    Difficulty.MEDIUM: "a typical interview question: the right data structure or an O(n) idea",
    Difficulty.HARD: "a hard interview question: dynamic programming, a tricky invariant or edge cases",
}

INVALID_PROBLEM = "The problem generator wrote an invalid problem: {reason} Please try again."
REFUSED_PROBLEM = "The problem generator wrote a problem whose tests do not hold up, so it was not served. This one cost you nothing: please try again."
GATE_REFUSED = "The problem generator wrote a problem that does not make sense, so it was not served. This one cost you nothing: please try again."
SANDBOX_NEEDED = "Generated problems are checked by running them, and code cannot run here right now. Please try again later."


class CodeProblemRefused(GenerationError):
    """A generated problem failed verification (`cause`: reference_fails, starter_passes,
    wrong_passes) or the content gate (content_gate, with the gate's `rule`)."""

    def __init__(self, message: str, *, cause: str, rule: str = "") -> None:
        super().__init__(message, cause=cause)
        self.rule = rule


@dataclass(frozen=True)
class ProblemDraft:
    title: str
    statement: str
    function_name: str
    signature: str
    starter_code: str
    examples: list[dict]
    hidden_tests: list[dict]
    reference_solution: str
    wrong_solution: str
    explanation: str
    language: str = CodeLanguage.PYTHON
    model_name: str = ""

    @property
    def source_key(self) -> str:
        digest = hashlib.sha256(" ".join(self.statement.lower().split()).encode()).hexdigest()[:40]
        return f"code-model:{digest}"


def problem_system_prompt(language: str) -> str:
    """The system prompt for a problem in `language`, naming the version the sandbox runs."""
    versions = {
        "python": f"Python {sandbox_python_version()}",
        "javascript": DEFAULT_JAVASCRIPT_VERSION,
        **sandbox_language_versions(),
    }
    parts = {name: text.format(**versions) for name, text in LANGUAGE_PROMPTS[language].items()}
    return SYSTEM_PROMPT.format(**parts)


def problem_prompt_messages(
    *, difficulty: str, topic: str, recent_titles: list[str], language: str = CodeLanguage.PYTHON
) -> list[dict[str, str]]:
    avoid = "; ".join(title[:80] for title in recent_titles[:20]) or "none"
    return [
        {"role": "system", "content": problem_system_prompt(language)},
        {
            "role": "user",
            "content": (
                f"Write one {difficulty} problem ({DIFFICULTY_GUIDANCE[difficulty]}) on "
                f"{Topic(topic).label}, in {CodeLanguage(language).label}. Avoid these titles the learner already had: {avoid}."
            ),
        },
    ]


def _text(data: dict, name: str, limit: int = MAX_TEXT_CHARS) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidModelOutput(f"{name} is missing or empty.")
    if not _encodable(value):
        raise InvalidModelOutput(f"{name} is not valid text.")
    if len(value.encode("utf-8")) > limit or "\x00" in value:
        raise InvalidModelOutput(f"{name} is too long or not text.")
    return value.strip() if limit <= MAX_TITLE_CHARS else value


def _encodable(text: str) -> bool:
    """False for text holding a lone surrogate (JSON can spell one, "\\ud800"): neither the
    database nor the response could store it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# A code field the model wrapped whole in a markdown fence, as models do even inside JSON: the
# code is what is inside. Only a fence around the whole field; a fence inside code is code.
_FENCED = re.compile(r"\s*(?P<fence>```|~~~)[\w+#-]*[ \t]*\n(?P<code>.*?)\n?[ \t]*(?P=fence)\s*", re.DOTALL)


def _code(data: dict, name: str) -> str:
    code = _text(data, name, settings.CODE_MAX_SUBMISSION_BYTES)
    fenced = _FENCED.fullmatch(code)
    if fenced and fenced["fence"] not in fenced["code"]:
        code = fenced["code"] + "\n"
        if not code.strip():
            raise InvalidModelOutput(f"{name} is missing or empty.")
    return code


def _tests(data: dict, name: str, low: int, high: int, *, language: str) -> list[dict]:
    tests = data.get(name)
    if not isinstance(tests, list) or not low <= len(tests) <= high:
        raise InvalidModelOutput(f"{name} must hold {low} to {high} tests.")
    checked = []
    for test in tests:
        if not isinstance(test, dict) or set(test) != {"args", "expected"}:
            raise InvalidModelOutput(f"a test in {name} is malformed.")
        args, expected = test["args"], test["expected"]
        if (
            not (isinstance(args, str) and isinstance(expected, str))
            or max(len(args), len(expected)) > MAX_TEST_CHARS
            or not (_encodable(args) and _encodable(expected))
        ):
            raise InvalidModelOutput(f"a test in {name} is malformed.")
        try:
            test_values(args=args, expected=expected, language=language)
        except ValueError:
            written = "JSON values" if language == CodeLanguage.JAVASCRIPT else "Python literals"
            raise InvalidModelOutput(f"a test in {name} is not {written}.") from None
        checked.append({"args": args, "expected": expected})
    return checked


# A JavaScript function's name: an ASCII identifier that is not a reserved word.
_JS_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_JS_RESERVED = frozenset(
    [
        "await",
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "enum",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "function",
        "if",
        "implements",
        "import",
        "in",
        "instanceof",
        "interface",
        "let",
        "new",
        "null",
        "package",
        "private",
        "protected",
        "public",
        "return",
        "static",
        "super",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "yield",
        "arguments",
        "eval",
        "undefined",
        "NaN",
        "Infinity",
    ]
)


def function_defined(code: str, *, name: str, language: str) -> bool:
    """Whether `code` declares the function `name`: `def name(` in Python; in JavaScript
    `function name(` (async too) or `const`/`let`/`var name =` (an arrow or function expression)."""
    if language == CodeLanguage.JAVASCRIPT:
        escaped = re.escape(name)
        return bool(
            re.search(rf"(?<![\w$.])function(?:\s*\*\s*|\s+){escaped}\s*\(", code)
            or re.search(rf"(?<![\w$.])(?:const|let|var)\s+{escaped}\s*=", code)
        )
    return f"def {name}(" in code


def _name_valid(name: str, language: str) -> bool:
    if language == CodeLanguage.JAVASCRIPT:
        return bool(_JS_IDENTIFIER.fullmatch(name)) and name not in _JS_RESERVED
    return name.isidentifier() and not keyword.iskeyword(name)


def _signature(signature: str, *, name: str, language: str) -> str:
    """The signature as shown: `def name(…)` or `function name(…)`. Models write it in backticks,
    or without its keyword, now and then; those are mended. Empty for one that names another
    function, or is not a signature at all."""
    keyword_ = "function" if language == CodeLanguage.JAVASCRIPT else "def"
    signature = signature.strip().strip("`").strip()
    if signature.startswith(f"{name}("):
        signature = f"{keyword_} {signature}"
    return signature if signature.startswith(f"{keyword_} {name}(") else ""


def problem_draft_parse(content: object, *, language: str = CodeLanguage.PYTHON) -> ProblemDraft:
    """The model's answer as a ProblemDraft in `language`, or InvalidModelOutput saying what is
    wrong with it. The answer is read as the challenges' answers are (generation/parsing.py): the
    first valid problem object, on its own, fenced or among prose."""
    try:
        return first_valid_object(
            content,
            lambda data: _problem_draft(data, language=language),
            max_chars=3 * settings.CODE_MAX_SUBMISSION_BYTES + ANSWER_CHARS_BESIDE_CODE,
            kind="problem",
        )
    except InvalidModelOutput as error:
        raise InvalidModelOutput(INVALID_PROBLEM.format(reason=error.message)) from None


def _problem_draft(data: dict, *, language: str) -> ProblemDraft:
    draft = ProblemDraft(
        title=_text(data, "title", MAX_TITLE_CHARS),
        statement=_text(data, "statement").strip(),
        function_name=_text(data, "function_name", MAX_TITLE_CHARS),
        signature=_text(data, "signature", 300),
        starter_code=_code(data, "starter_code"),
        examples=_tests(data, "examples", MIN_EXAMPLES, MAX_EXAMPLES, language=language),
        hidden_tests=_tests(data, "hidden_tests", MIN_HIDDEN, MAX_HIDDEN, language=language),
        reference_solution=_code(data, "reference_solution"),
        wrong_solution=_code(data, "wrong_solution"),
        explanation=_text(data, "explanation").strip(),
        language=language,
    )
    name = draft.function_name
    signature = _signature(draft.signature, name=name, language=language)
    if not (_name_valid(name, language) and signature):
        raise InvalidModelOutput("the function name or signature is malformed.")
    if not function_defined(draft.starter_code, name=name, language=language):
        raise InvalidModelOutput("the starter code does not define the function.")
    return replace(draft, signature=signature)


def problem_draft_verify(draft: ProblemDraft) -> None:
    """Run the reference, the starter code and the wrong solution on every test in the sandbox;
    CodeProblemRefused unless the reference passes all and the other two each fail one."""
    tests = [*draft.examples, *draft.hidden_tests]

    def passes_all(code: str) -> bool:
        try:
            graded, message, _ = suite_grade(
                code=code,
                function_name=draft.function_name,
                tests=tests,
                language=draft.language,
                learners_code=False,
            )
        except RunRefused:
            raise GenerationError(SANDBOX_NEEDED, cause="sandbox_unavailable") from None
        return not message and all(test.passed for test in graded)

    if not passes_all(draft.reference_solution):
        raise CodeProblemRefused(REFUSED_PROBLEM, cause="reference_fails")
    if passes_all(draft.starter_code):
        raise CodeProblemRefused(REFUSED_PROBLEM, cause="starter_passes")
    if passes_all(draft.wrong_solution):
        raise CodeProblemRefused(REFUSED_PROBLEM, cause="wrong_passes")


def problem_generate(
    *, difficulty: str, topic: str, recent_titles: list[str], language: str = CodeLanguage.PYTHON
) -> ProblemDraft:
    """Ask the model for a problem in `language`, parse it, pass it through the content gate and
    verify it; GenerationError otherwise."""
    from challengeapp.generation.openai_provider import structured_answer  # only with a key

    completion = structured_answer(
        messages=problem_prompt_messages(
            difficulty=difficulty, topic=topic, recent_titles=recent_titles, language=language
        ),
        schema_name=SCHEMA_NAME,
        schema=CODE_PROBLEM_SCHEMA,
    )
    try:
        draft = problem_draft_parse(completion.content, language=language)
    except InvalidModelOutput as error:
        raise InvalidModelOutput(error.message, upstream_request_id=completion.request_id) from error
    try:
        rule = problem_gate_rule(draft, topic=topic)
        if rule:
            raise CodeProblemRefused(GATE_REFUSED, cause="content_gate", rule=rule)
        problem_draft_verify(draft)
    except GenerationError as error:
        error.upstream_request_id = completion.request_id
        raise
    return replace(draft, model_name=completion.model_name)
