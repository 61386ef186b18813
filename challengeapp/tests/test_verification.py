"""Keys checked by running the code: a model's "what does this print?" draft through the real SDK,
the fake OpenAI server and the real sandbox. Each outcome, what is stored and what it costs."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

import pytest

from challengeapp.core.drafts import challenge_draft_validate
from challengeapp.core.errors import GenerationError
from challengeapp.generation.pipeline import challenge_generate
from challengeapp.models import Challenge, ContentDecision
from challengeapp.quality.verification import draft_verify
from challengeapp.quota import quota_status
from challengeapp.tests.fakes.openai_server import Reply

pytestmark = pytest.mark.django_db

PRINTS_SIX = {
    "title": "Sum of a range",
    "question": "What does this program print?",
    "code": "print(sum(range(4)))",
    "language": "python",
    "options": ["6", "10", "4", "range(0, 4)"],
    "correct_index": 0,
    "explanation": "range(4) is 0, 1, 2 and 3, whose sum is 6; 10 would include 4.",
    "answer_kind": "output",
}


def draft(**changes) -> str:
    return json.dumps({**PRINTS_SIX, **changes})


def generate(learner):
    return challenge_generate(user=learner, difficulty="easy", topic="python")


@pytest.fixture(autouse=True)
def _run_decides(settings):
    """Here what running the code shows decides alone: a key it leaves unsettled is served
    "unverified". The blind second check that would follow has its own tests (test_blind_check.py)."""
    settings.BLIND_CHECK = False


def failure_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "challengeapp.generation"]


def test_a_right_key_is_served_as_executed(fake_openai, learner, sandbox):
    fake_openai.enqueue(Reply(draft()))
    challenge = generate(learner)
    assert challenge.verification == "executed"
    assert challenge.options[challenge.correct_index] == "6"


def test_a_key_that_names_another_option_is_refused_and_the_model_asked_again(
    fake_openai, learner, sandbox, caplog
):
    caplog.set_level(logging.WARNING, logger="challengeapp.generation")
    fake_openai.enqueue(Reply(draft(correct_index=1)), Reply(draft()))

    challenge = generate(learner)

    assert len(fake_openai.chat_requests) == 2
    assert challenge.verification == "executed" and challenge.options[challenge.correct_index] == "6"
    assert Challenge.objects.count() == 1 and quota_status(user=learner).used == 1
    (line,) = failure_lines(caplog)
    assert "cause=key_mismatch" in line


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        ("print(sum(range(6)))", "output_matches_no_option"),
        ("print(1 / 0)", "code_crashed"),
        ("while True:\n    pass", "code_timed_out"),
        ("blob = bytearray(2 * 1024 ** 3)\nprint(len(blob))", "code_out_of_memory"),
        ("print('x' * 10_000_000)", "code_output_too_large"),
    ],
)
def test_code_that_does_not_print_an_option_is_refused_at_no_cost(
    fake_openai, learner, sandbox, caplog, code, cause
):
    caplog.set_level(logging.WARNING, logger="challengeapp.generation")
    fake_openai.enqueue(Reply(draft(code=code)))

    with pytest.raises(Exception) as raised:
        generate(learner)

    assert getattr(raised.value, "cause", None) == cause
    assert Challenge.objects.count() == 0 and quota_status(user=learner).used == 0
    (line,) = failure_lines(caplog)
    assert f"cause={cause}" in line


def test_code_that_tries_to_escape_achieves_nothing(fake_openai, learner, sandbox, tmp_path):
    target = tmp_path / "escaped"
    code = (
        "import socket\n"
        "try:\n"
        f"    open({str(target)!r}, 'w').write('x')\n"
        "except OSError:\n"
        "    pass\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 80), timeout=1)\n"
        "except OSError:\n"
        "    pass\n"
        "print(6)"
    )
    fake_openai.enqueue(Reply(draft(code=code)))
    challenge = generate(learner)
    assert challenge.verification == "executed"
    assert not target.exists()


def test_no_sandbox_means_served_unverified_and_never_run(fake_openai, learner, settings, tmp_path):
    settings.SANDBOX_BWRAP = str(tmp_path / "no-bwrap-here")
    marker = tmp_path / "ran"
    fake_openai.enqueue(Reply(draft(code=f"open({str(marker)!r}, 'w').write('x')\nprint(6)")))

    challenge = generate(learner)

    assert challenge.verification == "unverified"
    assert not marker.exists()


def test_concept_questions_and_an_absent_kind_whose_code_shows_no_option_are_unverified(fake_openai, learner):
    # Their code runs too (below), but prints none of the options: the key cannot be checked.
    beside_the_point = "print('setting up')"
    fake_openai.enqueue(
        Reply(draft(answer_kind="concept", code=beside_the_point)),
        Reply(
            draft(
                answer_kind="poetry",
                code=beside_the_point,
                question="What does this snippet show about sums?",
            )
        ),
    )
    assert generate(learner).verification == "unverified"
    assert generate(learner).verification == "unverified"
    no_kind = {k: v for k, v in PRINTS_SIX.items() if k != "answer_kind"}
    fake_openai.enqueue(
        Reply(
            json.dumps(
                {**no_kind, "code": beside_the_point, "question": "Which sum does this program compute?"}
            )
        )
    )
    assert generate(learner).verification == "unverified"


def test_a_question_in_a_language_the_sandbox_does_not_run_is_never_run(fake_openai, learner, sandbox):
    fake_openai.enqueue(Reply(draft(language="ruby", code="puts 6")))
    assert generate(learner).verification == "unverified"


def test_bank_challenges_are_curated_or_executed_and_retired_content_never_comes_back(learner):
    served = [challenge_generate(user=learner, difficulty="easy", topic="git") for _ in range(3)]
    assert {challenge.verification for challenge in served} <= {"curated", "executed"}
    retired = served[0].source_key
    ContentDecision.objects.create(source_key=retired, outcome="retired", decided_at=served[0].created_at)
    for _ in range(10):
        assert challenge_generate(user=learner, difficulty="easy", topic="git").source_key != retired


# An exception is the answer: when the snippet crashes, its last traceback line is its output.
MUTATES_WHILE_ITERATING = {
    "title": "Changing a dict while looping over it",
    "question": "What happens when this code runs?",
    "code": "d = {'a': 1, 'b': 2}\nfor key in d:\n    d[key + '!'] = 0\nprint(len(d))",
    "options": [
        "RuntimeError: dictionary changed size during iteration",
        "4",
        "2",
        "It loops forever",
    ],
    "correct_index": 0,
    "explanation": "A dict's size may not change while it is iterated: CPython checks and raises.",
}


def test_an_exception_that_is_the_key_is_served_as_executed(fake_openai, learner, sandbox):
    fake_openai.enqueue(Reply(draft(**MUTATES_WHILE_ITERATING)))
    challenge = generate(learner)
    assert challenge.verification == "executed"
    assert challenge.options[challenge.correct_index].startswith("RuntimeError")


@pytest.mark.parametrize(
    "options",
    [
        ["TypeError", "ValueError", "SyntaxError", "It prints 11"],
        ["It raises a TypeError.", "It raises a ValueError.", "It prints 11", "It prints 2"],
    ],
)
def test_an_exception_named_by_its_type_alone_is_served_as_executed(fake_openai, learner, sandbox, options):
    fake_openai.enqueue(
        Reply(
            draft(
                question="What does this code raise?",
                code="print(1 + '1')",
                options=options,
                correct_index=0,
                answer_kind="concept",
            )
        )
    )
    challenge = generate(learner)
    assert challenge.verification == "executed"
    assert challenge.options[challenge.correct_index] == options[0]


def test_output_printed_before_the_exception_counts_with_it(fake_openai, learner, sandbox):
    fake_openai.enqueue(
        Reply(
            draft(
                question="What does this program show?",
                code="print('start')\nraise ValueError('bad level')",
                options=[
                    "start\nValueError: bad level",
                    "start",
                    "ValueError: bad level\nstart",
                    "bad level",
                ],
                correct_index=0,
            )
        )
    )
    assert generate(learner).verification == "executed"


def test_a_key_the_exception_disproves_is_refused_and_the_model_asked_again(
    fake_openai, learner, sandbox, caplog
):
    caplog.set_level(logging.WARNING, logger="challengeapp.generation")
    fake_openai.enqueue(
        Reply(draft(**{**MUTATES_WHILE_ITERATING, "correct_index": 1})),
        Reply(draft(**MUTATES_WHILE_ITERATING)),
    )
    challenge = generate(learner)
    assert len(fake_openai.chat_requests) == 2 and challenge.verification == "executed"
    (line,) = failure_lines(caplog)
    assert "cause=key_mismatch" in line


# Run what can be run, whatever the model calls it.
def test_a_print_question_labelled_concept_whose_code_disproves_the_key_is_refused(
    fake_openai, learner, sandbox, caplog
):
    caplog.set_level(logging.WARNING, logger="challengeapp.generation")
    fake_openai.enqueue(
        Reply(draft(answer_kind="concept", correct_index=1)), Reply(draft(answer_kind="concept"))
    )
    challenge = generate(learner)
    assert len(fake_openai.chat_requests) == 2
    assert challenge.verification == "executed" and challenge.options[challenge.correct_index] == "6"
    (line,) = failure_lines(caplog)
    assert "cause=key_mismatch" in line


@pytest.mark.parametrize(
    "code",
    [
        "print('setting up')\nitems = [3, 1, 2]",  # prints something no option is
        "import missing_module_here",  # crashes with an exception no option names
        "while True:\n    pass",  # never ends: a concept question may be about that
    ],
)
def test_a_concept_question_whose_code_shows_no_option_is_served_unverified(
    fake_openai, learner, sandbox, code
):
    fake_openai.enqueue(
        Reply(
            draft(
                question="Which complexity does sorting these items with sorted() have?",
                code=code,
                options=["O(n log n)", "O(n)", "O(n²)", "O(log n)"],
                answer_kind="concept",
            )
        )
    )
    challenge = generate(learner)
    assert challenge.verification == "unverified"
    assert challenge.options[challenge.correct_index] == "O(n log n)"


# A value, not a print.
LIST_OF_DICT = {
    "title": "Dict keys keep insertion order",
    "question": "What is `list(d)` after these lines run?",
    "code": "d = {}\nd['b'] = 1\nd['a'] = 2\nd['b'] = 3",
    "options": ["['b', 'a']", "['a', 'b']", "['b', 'a', 'b']", "['a']"],
    "correct_index": 0,
    "explanation": "Assigning to an existing key keeps its place: keys stay in insertion order.",
}


def test_a_value_question_is_checked_by_evaluating_the_named_expression(fake_openai, learner, sandbox):
    fake_openai.enqueue(Reply(draft(**LIST_OF_DICT)))
    challenge = generate(learner)
    assert challenge.verification == "executed"
    assert challenge.options[challenge.correct_index] == "['b', 'a']"


def test_a_value_question_whose_key_the_expression_disproves_is_refused(
    fake_openai, learner, sandbox, caplog
):
    caplog.set_level(logging.WARNING, logger="challengeapp.generation")
    fake_openai.enqueue(
        Reply(draft(**{**LIST_OF_DICT, "correct_index": 1, "answer_kind": "concept"})),
        Reply(draft(**LIST_OF_DICT)),
    )
    challenge = generate(learner)
    assert len(fake_openai.chat_requests) == 2 and challenge.verification == "executed"
    (line,) = failure_lines(caplog)
    assert "cause=key_mismatch" in line


def test_a_value_question_that_cannot_be_evaluated_is_served_unverified_not_refused(
    fake_openai, learner, sandbox
):
    fake_openai.enqueue(
        Reply(
            draft(
                **{
                    **LIST_OF_DICT,
                    # No expression to evaluate: the question names none.
                    "question": "In which order are the keys of d after these lines run?",
                    "options": ["b then a", "a then b", "b, a, b", "only a"],
                }
            )
        )
    )
    challenge = generate(learner)
    assert challenge.verification == "unverified"
    assert challenge.options[challenge.correct_index] == "b then a"


# Language version: the one the model is told is the one the sandbox runs, and the learner sees it.
def test_the_model_is_told_the_python_version_the_sandbox_runs(fake_openai, learner, sandbox):
    from challengeapp.quality.sandbox import snippet_run

    ran = snippet_run(code="import sys; print('%d.%d' % sys.version_info[:2])")
    fake_openai.enqueue(Reply(draft()))
    generate(learner)
    prompt = fake_openai.chat_requests[0].prompt_text
    assert f"Assume Python {ran.stdout}." in prompt
    others = {f"Python 3.{minor}" for minor in range(8, 20)} - {f"Python {ran.stdout}"}
    assert not any(other in prompt for other in others)


def test_the_learner_sees_which_python_ran_the_code(fake_openai, learner, learner_client, sandbox):
    from challengeapp.quality.sandbox import snippet_run

    ran = snippet_run(code="import sys; print('%d.%d' % sys.version_info[:2])")
    fake_openai.enqueue(Reply(draft()))
    challenge = generate(learner)
    page = learner_client.get(f"/challenges/{challenge.id}/").content.decode()
    assert f"CodeDrill ran this code (Python {ran.stdout})" in page


@pytest.mark.parametrize("answer_kind", ["concept", None])
def test_a_question_whose_options_are_all_sentences_about_the_code_is_not_run(settings, answer_kind):
    # No run could print one of these, so none is paid for. A bubblewrap that leaves a mark if
    # started shows whether anything ran, whatever this machine has (verification alone: writing
    # the prompt proves the sandbox once, to learn the versions it names). A directory anyone may
    # write to and reach: bubblewrap is started as uid 65534 when the tests run as root.
    shared = Path(tempfile.mkdtemp(prefix="codedrill-verify-"))
    shared.chmod(0o777)
    marker = shared / "ran"
    fake_bwrap = shared / "bwrap"
    fake_bwrap.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    fake_bwrap.chmod(0o755)
    settings.SANDBOX_BWRAP = str(fake_bwrap)
    fields = {
        "question": "What does this snippet print, and what happens to the original list?",
        "code": "items = [3, 1, 2]\nresult = sorted(items)\nprint(result)",
        "options": [
            "It prints the list sorted in place and returns None",
            "It raises TypeError before printing anything at all",
            "It prints a new sorted list and leaves the original unchanged",
            "It prints the original list because sorted() is lazy",
        ],
        "correct_index": 2,
        "explanation": "sorted() always builds and returns a new list; list.sort() sorts in place.",
    }
    content = {key: value for key, value in {**PRINTS_SIX, **fields}.items() if key != "answer_kind"}
    if answer_kind is not None:
        content["answer_kind"] = answer_kind
    validated = challenge_draft_validate(content)

    try:
        verification = draft_verify(validated, answer_kind=validated.answer_kind)
        ran = marker.exists()
    finally:
        shutil.rmtree(shared, ignore_errors=True)

    assert verification == "unverified"
    assert not ran


# --- JavaScript on Node.js and SQL on SQLite, in the same sandbox --------------------------------

JS_MAP = {
    "title": "map() and a closure",
    "question": "What does this program log?",
    "code": "const doubled = [1, 2, 3].map((n) => n * 2);\nconsole.log(doubled);",
    "language": "javascript",
    "options": ["[ 2, 4, 6 ]", "[ 1, 2, 3 ]", "[ 2, 4, 6, 8 ]", "undefined"],
    "correct_index": 0,
    "explanation": "`map` returns a new array with each element doubled.",
    "answer_kind": "output",
}
SQL_LEFT_JOIN = {
    "title": "COUNT(*) against COUNT(column) after a LEFT JOIN",
    "question": "What does the final query return?",
    "code": (
        "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT);\n"
        "CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER, title TEXT);\n"
        "INSERT INTO authors VALUES (1, 'Ada'), (2, 'Grace');\n"
        "INSERT INTO books VALUES (1, 1, 'Notes'), (2, 1, 'Sketches');\n"
        "SELECT a.name, COUNT(b.id) AS books\n"
        "FROM authors a LEFT JOIN books b ON b.author_id = a.id\n"
        "GROUP BY a.name ORDER BY a.name;"
    ),
    "language": "sql",
    "options": ["Ada | 2\nGrace | 0", "Ada | 2\nGrace | 1", "Ada | 2", "Ada | 1\nGrace | 1"],
    "correct_index": 0,
    "explanation": "`COUNT(b.id)` skips the NULL that the LEFT JOIN gives Grace; `COUNT(*)` would count 1.",
    "answer_kind": "output",
}


def js(**changes) -> str:
    return json.dumps({**JS_MAP, **changes})


def sql(**changes) -> str:
    return json.dumps({**SQL_LEFT_JOIN, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {},
        # As models write a logged array: no spaces inside the brackets.
        {"options": ["[2, 4, 6]", "[1, 2, 3]", "[2, 4, 6, 8]", "undefined"]},
        # An error is an answer: the uncaught error's "Type: message".
        {
            "code": "const user = undefined;\nconsole.log(user.name);",
            "options": [
                "TypeError: Cannot read properties of undefined (reading 'name')",
                "undefined",
                "ReferenceError: user is not defined",
                "null",
            ],
        },
        # An unhandled rejection too, after what was logged before it.
        {
            "code": "console.log('start');\nPromise.reject(new RangeError('too far'));",
            "options": ["start\nRangeError: too far", "start", "RangeError: too far", "start\nundefined"],
        },
    ],
    ids=["logged", "as-models-write-it", "an-error", "a-rejection"],
)
def test_a_javascript_key_node_confirms_is_served_as_executed(fake_openai, learner, sandbox, changes):
    fake_openai.enqueue(Reply(js(**changes)))
    challenge = generate(learner)
    assert challenge.verification == "executed"
    assert challenge.code_language == "javascript"


def test_a_javascript_key_node_refutes_is_refused_and_asked_again(fake_openai, learner, sandbox, caplog):
    caplog.set_level(logging.WARNING, logger="challengeapp.generation")
    fake_openai.enqueue(Reply(js(correct_index=1)), Reply(js()))

    challenge = generate(learner)

    assert "cause=key_mismatch" in "\n".join(failure_lines(caplog))
    assert challenge.options[challenge.correct_index] == "[ 2, 4, 6 ]"


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {
            "options": [
                "('Ada', 2), ('Grace', 0)",
                "('Ada', 2), ('Grace', 1)",
                "('Ada', 2)",
                "('Ada', 1), ('Grace', 1)",
            ]
        },
        {
            "code": SQL_LEFT_JOIN["code"]
            .replace("SELECT a.name, COUNT(b.id) AS books", "SELECT COUNT(b.id)")
            .replace("GROUP BY a.name ORDER BY a.name", ""),
            "options": ["2", "3", "1", "NULL"],
        },
        {
            "code": SQL_LEFT_JOIN["code"].replace("a.name, COUNT(b.id)", "a.nam, COUNT(b.id)"),
            "options": ["Error: no such column: a.nam", "Ada | 2\nGrace | 0", "Ada | 2", "NULL"],
        },
    ],
    ids=["rows", "tuples", "one-value", "an-error"],
)
def test_an_sql_key_sqlite_confirms_is_served_as_executed(fake_openai, learner, sandbox, changes):
    fake_openai.enqueue(Reply(sql(**changes)))
    challenge = generate(learner)
    assert challenge.verification == "executed"


def test_an_sql_key_sqlite_refutes_is_refused_at_no_cost(fake_openai, learner, sandbox, caplog):
    caplog.set_level(logging.WARNING, logger="challengeapp.generation")
    fake_openai.enqueue(Reply(sql(correct_index=1)), Reply(sql(correct_index=1)))

    with pytest.raises(GenerationError):
        generate(learner)

    assert failure_lines(caplog)[-1].startswith("generation failed cause=key_mismatch")
    assert Challenge.objects.count() == 0 and quota_status(user=learner).used == 0


def test_a_result_written_in_no_way_we_read_is_left_to_the_blind_check_not_refused(
    fake_openai, learner, sandbox
):
    # "Two rows: Ada with 2 and Grace with 0" is right, but matches no rendering of the result.
    fake_openai.enqueue(
        Reply(
            sql(
                options=[
                    "Two rows: Ada with 2 and Grace with 0",
                    "Two rows: Ada with 2 and Grace with 1",
                    "One row: Ada with 2",
                    "Two rows: Ada with 1 and Grace with 1",
                ]
            )
        )
    )
    assert generate(learner).verification == "unverified"


@pytest.mark.parametrize(
    ("reply", "ask_version", "label"),
    [
        (JS_MAP, "console.log(process.versions.node)", "Node.js"),
        (SQL_LEFT_JOIN, "SELECT sqlite_version();", "SQLite"),
    ],
    ids=["javascript", "sql"],
)
def test_the_learner_and_the_model_see_the_version_that_ran_the_code(
    fake_openai, learner, learner_client, sandbox, reply, ask_version, label
):
    from challengeapp.quality.sandbox import snippet_run

    ran = snippet_run(code=ask_version, language=reply["language"]).stdout
    version = json.loads(ran)["rows"][0][0] if reply["language"] == "sql" else ran
    fake_openai.enqueue(Reply(json.dumps(reply)))
    challenge = challenge_generate(
        user=learner, difficulty="easy", topic="javascript" if reply["language"] == "javascript" else "sql"
    )
    assert f"{label} {version}" in fake_openai.chat_requests[0].prompt_text
    page = learner_client.get(f"/challenges/{challenge.id}/").content.decode()
    assert f"CodeDrill ran this code ({label} {version})" in page


@pytest.mark.parametrize(
    ("options", "key"),
    [
        (["It prints `6`.", "It prints `10`.", "It prints `4`.", "It raises a TypeError."], 0),
        (["Output: 6", "Output: 10", "Output: 4", "Output: range(0, 4)"], 0),
        (["The output is 10", "The output is 6", "The output is 4", "Nothing is printed"], 1),
    ],
    ids=["it-prints", "output-colon", "the-output-is"],
)
def test_options_that_say_the_output_in_a_phrase_are_checked_like_bare_ones(
    fake_openai, learner, sandbox, options, key
):
    fake_openai.enqueue(Reply(draft(options=options, correct_index=key)))
    assert generate(learner).verification == "executed"


def test_a_phrased_key_the_run_refutes_is_refused(fake_openai, learner, sandbox, caplog):
    caplog.set_level(logging.WARNING, logger="challengeapp.generation")
    phrased = ["It prints `6`.", "It prints `10`.", "It prints `4`.", "It raises a TypeError."]
    fake_openai.enqueue(
        Reply(draft(options=phrased, correct_index=1)), Reply(draft(options=phrased, correct_index=1))
    )

    with pytest.raises(GenerationError):
        generate(learner)

    assert "cause=key_mismatch" in "\n".join(failure_lines(caplog))


def test_a_javascript_error_said_in_a_phrase_is_an_answer(fake_openai, learner, sandbox):
    fake_openai.enqueue(
        Reply(
            js(
                code="const n = null;\nconsole.log(n.length);",
                options=[
                    "It throws TypeError: Cannot read properties of null (reading 'length')",
                    "It logs 0",
                    "It logs undefined",
                    "It throws ReferenceError: n is not defined",
                ],
            )
        )
    )
    assert generate(learner).verification == "executed"


@pytest.mark.parametrize(
    ("code", "options"),
    [
        ("print([1, 2, 3])", ["[1,2,3]", "[1,2]", "[3,2,1]", "None"]),
        ("for n in range(3):\n    print(n)", ["0, 1, 2", "1, 2, 3", "0, 1, 2, 3", "2"]),
    ],
    ids=["no-spaces", "lines-as-a-list"],
)
def test_output_laid_out_otherwise_is_still_checked(fake_openai, learner, sandbox, code, options):
    fake_openai.enqueue(Reply(draft(code=code, options=options, correct_index=0)))
    assert generate(learner).verification == "executed"
