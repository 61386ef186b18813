"""Procedurally generated "what does this print?" Python challenges.

Each generator draws its parameters from the ``random.Random`` it is given (and from nothing
else, so a seeded rng reproduces a snippet exactly), writes a short snippet, and learns the
correct answer by *running* that snippet with stdout captured. The three wrong options come
from typical misconceptions computed from the parameters; any that happens to coincide with the
real output or with another option is replaced from a deterministic list of further plausible
wrong outputs, so the four options are always distinct.

Only behaviour that the Python language guarantees is used: no identity tests, no set ordering,
no hashes, no addresses in reprs. Pure standard library; no Django import.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import io
import random
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

TOPIC = "python"
LANGUAGE = "python"
QUESTION = "What does this snippet print?"

MAX_TITLE_CHARS = 80
MAX_QUESTION_CHARS = 600
MAX_CODE_CHARS = 1200
MAX_CODE_LINES = 15
MAX_OPTION_CHARS = 200
MAX_EXPLANATION_CHARS = 700

# Last-resort wrong answers, used only when the misconception-based ones and a generator's own
# fallbacks collide. There are more of them than there are options, so three always survive.
GENERIC_FALLBACKS = (
    "TypeError",
    "NameError",
    "SyntaxError",
    "ValueError",
    "None",
    "IndexError",
    "AttributeError",
)


@dataclass(frozen=True)
class ProceduralChallenge:
    source_key: str
    difficulty: str
    topic: str
    title: str
    question: str
    code: str
    language: str
    options: tuple[str, str, str, str]
    correct_index: int
    explanation: str

    @property
    def correct_option(self) -> str:
        return self.options[self.correct_index]


@dataclass(frozen=True)
class SnippetGenerator:
    name: str
    difficulty: str
    build: Callable[[random.Random], ProceduralChallenge]


# A wrong answer and, when it stems from a nameable misconception, that misconception as a
# phrase completing "... comes from <phrase>." (None for plain fallbacks).
Candidate = tuple[str | None, str | None]


def run_snippet(code: str) -> str:
    """Execute `code` in a fresh namespace and return what it printed, minus the final newline.

    The snippet gets its own `print` bound to a private buffer instead of redirecting sys.stdout,
    which is process-wide: in a threaded server another thread's output could land in the answer.
    """
    buffer = io.StringIO()
    snippet_builtins = dict(vars(builtins))
    snippet_builtins["print"] = functools.partial(print, file=buffer)
    namespace = {"__builtins__": snippet_builtins}
    exec(compile(code, "<snippet>", "exec"), namespace)
    return buffer.getvalue().removesuffix("\n")


def option_key(text: str) -> str:
    """How options are compared for sameness: case-folded, whitespace collapsed (so also stripped)."""
    return " ".join(text.casefold().split())


def _usable(text: str | None) -> bool:
    return (
        isinstance(text, str)
        and bool(text.strip())
        and text == text.strip()
        and "\n" not in text
        and len(text) <= MAX_OPTION_CHARS
    )


def _explain(correct: str, why: str, tempting: tuple[str, str] | None) -> str:
    if tempting is not None:
        wrong, misconception = tempting
        tail = f"The tempting answer {wrong} comes from {misconception}."
        short_tail = f"The most tempting wrong answer comes from {misconception}."
    else:
        tail = short_tail = "The other answers come from misreading how these operations behave."
    for text in (
        f"The snippet prints {correct}: {why} {tail}",
        f"{why[0].upper()}{why[1:]} {tail}",
        f"{why[0].upper()}{why[1:]} {short_tail}",
    ):
        if len(text) <= MAX_EXPLANATION_CHARS:
            return text
    return text[: MAX_EXPLANATION_CHARS - 3].rstrip() + "..."


def _finish(
    rng: random.Random,
    *,
    name: str,
    difficulty: str,
    title: str,
    code: str,
    why: str,
    candidates: Iterable[Candidate],
    fallbacks: Iterable[str | None] = (),
) -> ProceduralChallenge:
    """Run the snippet, pick three distinct wrong answers, place the right one at random."""
    code = code.strip("\n")
    correct = run_snippet(code)
    if not _usable(correct):
        raise ValueError(f"generator {name!r} produced an unusable output: {correct!r}")
    seen = {option_key(correct)}
    picked: list[tuple[str, str | None]] = []

    def consider(text: str | None, misconception: str | None) -> None:
        if len(picked) == 3 or not _usable(text):
            return
        key = option_key(text)
        if key in seen:
            return
        seen.add(key)
        picked.append((text, misconception))

    for text, misconception in candidates:
        consider(text, misconception)
    for text in (*fallbacks, *GENERIC_FALLBACKS):
        consider(text, None)

    position = rng.randrange(4)
    options = [text for text, _ in picked]
    options.insert(position, correct)
    tempting = next(((text, why_wrong) for text, why_wrong in picked if why_wrong), None)
    digest = hashlib.sha256(code.encode("utf-8")).hexdigest()[:12]
    return ProceduralChallenge(
        source_key=f"proc:{name}:{digest}",
        difficulty=difficulty,
        topic=TOPIC,
        title=title,
        question=QUESTION,
        code=code,
        language=LANGUAGE,
        options=(options[0], options[1], options[2], options[3]),
        correct_index=position,
        explanation=_explain(correct, why, tempting),
    )


def _ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}.get(n, f"{n}th")


WORDS = (
    "python",
    "closure",
    "iterator",
    "generator",
    "keyword",
    "lambda",
    "decorator",
    "function",
    "variable",
    "package",
    "module",
    "binding",
)
COLOURS = ("red", "green", "blue", "cyan", "pink", "gold", "teal", "gray", "lime", "navy")
FRUITS = (
    "apple",
    "pear",
    "fig",
    "kiwi",
    "plum",
    "lime",
    "mango",
    "grape",
    "peach",
    "melon",
    "cherry",
    "date",
)


# --- list slicing -------------------------------------------------------------------------------


def build_slicing(rng: random.Random) -> ProceduralChallenge:
    kind = rng.choice(("ints", "letters", "word"))
    seq: Sequence
    if kind == "ints":
        n = rng.randint(5, 8)
        step = rng.choice((1, 2, 3, 5, 10))
        first = rng.randint(0, 9) * step
        seq = [first + step * k for k in range(n)]
        var = rng.choice(("nums", "values", "data", "scores"))
        literal = repr(seq)
    elif kind == "letters":
        n = rng.randint(5, 8)
        offset = rng.randint(0, 26 - n)
        seq = list(string.ascii_lowercase[offset : offset + n])
        var = rng.choice(("letters", "chars", "items"))
        literal = repr(seq)
    else:
        seq = rng.choice(WORDS)
        n = len(seq)
        var = rng.choice(("word", "text", "name"))
        literal = f'"{seq}"'
    empty = "[]" if kind != "word" else None  # an empty string prints nothing: no option
    error = (
        "IndexError: string index out of range" if kind == "word" else "IndexError: list index out of range"
    )
    fmt = str

    pattern = rng.choice(("negative_window", "mixed", "reverse_step", "stride_back"))
    if pattern == "negative_window":
        a = -rng.randint(3, n - 1)
        b = -rng.randint(1, -a - 1)
        expr = f"{var}[{a}:{b}]"
        why = (
            f"negative indices count from the end, so the slice starts at index {a} "
            f"({seq[a]!r}) and stops just before index {b} ({seq[b]!r}), which is excluded."
        )
        candidates: list[Candidate] = [
            (fmt(seq[a : (b + 1) or None]), f"treating the stop index {b} as inclusive"),
            (
                fmt(seq[a - 1 : b - 1]),
                "counting from the end as if -0 were the last element, which shifts the window one place left",
            ),
            (fmt(seq[a:b][::-1]), "assuming negative indices make the slice run backwards"),
        ]
    elif pattern == "mixed":
        a = rng.randint(1, n - 3)
        b = -rng.randint(1, n - a - 2)
        expr = f"{var}[{a}:{b}]"
        why = (
            f"indexing starts at 0, so the slice starts at index {a} ({seq[a]!r}) and runs up to, "
            f"but not including, index {b}, the element {-b} from the end."
        )
        candidates = [
            (fmt(seq[a : (b + 1) or None]), f"treating the stop index {b} as inclusive"),
            (fmt(seq[a - 1 : b]), "counting positions from 1, which starts the slice one element early"),
            (fmt(seq[a:-b]) or empty, "reading the negative stop as a position counted from the start"),
        ]
    elif pattern == "reverse_step":
        start = rng.randint(3, n - 1)
        stop = rng.randint(0, start - 2)
        step = rng.choice((1, 1, 2))
        shown_start = start - n if rng.random() < 0.5 else start
        expr = f"{var}[{shown_start}:{stop}:-{step}]"
        why = (
            f"with a negative step the slice walks backwards from index {shown_start} "
            f"and stops before reaching index {stop}"
            + (", taking every second element." if step == 2 else ", which is excluded.")
        )
        candidates = [
            (
                fmt(seq[start:stop:-step][::-1]),
                "expecting the elements in their original left-to-right order",
            ),
            (
                fmt(seq[start : (stop - 1) if stop else None : -step]),
                f"treating the stop index {stop} as inclusive",
            ),
            (
                empty,
                "believing a slice whose start is after its stop is always empty, even with a negative step",
            ),
            (fmt(seq[start - 1 : stop : -step]), "starting the walk one element too early"),
        ]
    else:
        step = rng.choice((2, 3))
        start = rng.choice((None, -2))
        expr = f"{var}[::-{step}]" if start is None else f"{var}[{start}::-{step}]"
        origin = "the last element" if start is None else "the second-to-last element"
        why = (
            f"a negative step starts at {origin} and walks backwards, taking every {_ordinal(step)} element."
        )
        candidates = [
            (
                fmt(seq[::step][::-1]),
                f"taking every {_ordinal(step)} element from the front and then reversing the result",
            ),
            (fmt(seq[::step]), "ignoring the minus sign and stepping forwards from the start"),
            (fmt(seq[start::-1]), "ignoring the step size and simply reversing"),
        ]

    if rng.random() < 0.5:
        body = f"print({expr})"
    else:
        result = rng.choice(("part", "chunk", "piece"))
        body = f"{result} = {expr}\nprint({result})"
    code = f"{var} = {literal}\n{body}"
    return _finish(
        rng,
        name="slicing",
        difficulty="easy",
        title="Slicing with negative indices and steps",
        code=code,
        why=why,
        candidates=candidates,
        fallbacks=(fmt(seq), fmt(seq[::-1]), empty, error),
    )


# --- string methods -----------------------------------------------------------------------------

REPEATED_WORDS = (
    "banana",
    "abracadabra",
    "mississippi",
    "bookkeeper",
    "referee",
    "parallel",
    "committee",
    "alfalfa",
    "cocoa",
    "successes",
    "assesses",
    "tattoo",
    "papaya",
    "coconut",
)
SYMBOLS = ("_", "*", "#", "+", "-", "=")


def build_string_methods(rng: random.Random) -> ProceduralChallenge:
    variant = rng.choice(("split", "replace_count", "immutable", "strip_chars", "join_chars"))
    if variant == "split":
        parts = rng.sample(COLOURS, rng.randint(4, 5))
        sep = rng.choice((",", ";", "-", "|", ":", "/"))
        maxsplit = rng.randint(1, len(parts) - 2)
        line = sep.join(parts)
        arg = f"maxsplit={maxsplit}" if rng.random() < 0.5 else str(maxsplit)
        code = f'line = "{line}"\nparts = line.split("{sep}", {arg})\nprint(parts)'
        title = "str.split with maxsplit"
        why = (
            f"maxsplit={maxsplit} allows at most {maxsplit} split{'s' if maxsplit > 1 else ''}, made from the left, so everything "
            f"after the {_ordinal(maxsplit)} separator stays together in the last piece."
        )
        candidates: list[Candidate] = [
            (str(line.rsplit(sep, maxsplit)), "thinking maxsplit counts its splits from the right-hand end"),
            (
                str(line.split(sep, maxsplit - 1)),
                "reading maxsplit as the number of pieces instead of the number of splits",
            ),
            (str(line.split(sep)), "ignoring maxsplit and splitting at every separator"),
        ]
        fallbacks: tuple[str | None, ...] = (str(parts[: maxsplit + 1]), str([line]), "TypeError")
    elif variant == "replace_count":
        word = rng.choice(REPEATED_WORDS)
        repeated = [ch for ch in sorted(set(word)) if word.count(ch) >= 2]
        old = rng.choice(repeated)
        occurrences = word.count(old)
        count = rng.randint(1, occurrences - 1)
        new = rng.choice(SYMBOLS)
        name = rng.choice(("word", "text", "s"))
        code = f'{name} = "{word}"\nprint({name}.replace("{old}", "{new}", {count}))'
        title = "str.replace with a count"
        why = (
            f"the third argument limits replace() to the first {count} occurrence{'s' if count > 1 else ''} of {old!r}, "
            "scanning from the left; the rest are left alone."
        )
        candidates = [
            (word.replace(old, new), "ignoring the count argument and replacing every occurrence"),
            (word[::-1].replace(old, new, count)[::-1], "thinking the count applies to the last occurrences"),
            (
                word.replace(old, new, count + 1),
                "treating the count as zero-based, which replaces one extra occurrence",
            ),
        ]
        fallbacks = (word, "TypeError: replace() takes at most 2 arguments")
    elif variant == "immutable":
        word = rng.choice(REPEATED_WORDS)
        first, second = rng.sample(sorted(set(word)), 2)
        new1, new2 = rng.sample(SYMBOLS, 2)
        name = rng.choice(("text", "word", "s"))
        two_calls = rng.random() < 0.6
        lines = [f'{name} = "{word}"', f'{name}.replace("{first}", "{new1}")']
        if two_calls:
            lines.append(f'{name}.replace("{second}", "{new2}")')
        lines.append(f"print({name})")
        code = "\n".join(lines)
        title = "Strings are immutable"
        why = (
            "strings are immutable, so replace() returns a new string, which is thrown away here; "
            f"{name} is never reassigned and still refers to the original text."
        )
        both = word.replace(first, new1).replace(second, new2)
        candidates = [
            (
                both if two_calls else word.replace(first, new1),
                "believing str.replace() changes the string in place",
            ),
            (word.replace(second, new2) if two_calls else None, "thinking only the last call takes effect"),
            (
                word.replace(first, new1) if two_calls else word.replace(first, new1, 1),
                "thinking only one change sticks",
            ),
        ]
        fallbacks = ("None", word.replace(first, ""))
    elif variant == "strip_chars":
        core = rng.choice(COLOURS + WORDS)
        pad = rng.sample("*-=.#~+", 2)
        if rng.random() < 0.5:
            cut = rng.randint(1, len(core) - 1)
            core = core[:cut] + rng.choice(pad) + core[cut:]
        left = "".join(rng.choice(pad) for _ in range(rng.randint(1, 3)))
        right = "".join(rng.choice(pad) for _ in range(rng.randint(1, 3)))
        text = left + core + right
        arg = "".join(pad)
        code = f'raw = "{text}"\nprint(raw.strip("{arg}"))'
        title = "str.strip with characters"
        why = (
            f'strip("{arg}") treats its argument as a set of characters and removes any run of them '
            "from both ends only, never from the middle."
        )
        candidates = [
            (
                text.removeprefix(arg).removesuffix(arg),
                "treating the argument as an exact prefix and suffix rather than a set of characters",
            ),
            (
                "".join(ch for ch in text if ch not in pad),
                "thinking strip() removes those characters everywhere",
            ),
            (text.lstrip(arg), "thinking strip() only trims the left end"),
            (text.rstrip(arg), "thinking strip() only trims the right end"),
        ]
        fallbacks = (text,)
    else:
        word = rng.choice(WORDS + COLOURS)
        sep = rng.choice(("-", "+", "*", ".", "|", ":"))
        source = rng.choice(("word", "sorted(word)", "reversed(word)"))
        chars = {"word": word, "sorted(word)": "".join(sorted(word)), "reversed(word)": word[::-1]}[source]
        joined = sep.join(chars)
        code = f'word = "{word}"\nprint("{sep}".join({source}))'
        title = "str.join over a string"
        why = (
            "join() iterates over the characters it is given and puts the separator between "
            "neighbouring characters only, not before the first or after the last."
        )
        candidates = [
            (chars, "thinking join() treats the string as one single item"),
            (joined + sep, "expecting a separator after every character, including the last"),
            (sep + joined + sep, "expecting separators around both ends as well"),
        ]
        if source != "word":
            candidates.insert(
                2, (sep.join(word), f"forgetting that {source.split('(')[0]}() reorders the characters")
            )
        fallbacks = (word + sep, "TypeError")
    return _finish(
        rng,
        name="string_methods",
        difficulty="easy",
        title=title,
        code=code,
        why=why,
        candidates=candidates,
        fallbacks=fallbacks,
    )


# --- division and modulo ------------------------------------------------------------------------


def build_division(rng: random.Random) -> ProceduralChallenge:
    while True:
        a = rng.randint(5, 29)
        b = rng.randint(2, 9)
        if a % b:
            break
    sign_a, sign_b = rng.choice(((-1, 1), (1, -1)))
    a *= sign_a
    b *= sign_b
    form = rng.choice(("floor_mod", "floor_true", "divmod", "floor_int", "float_floor", "identity"))
    names = rng.choice((("a", "b"), ("x", "y"), ("m", "n")))
    x, y = names

    floor_q = a // b
    floor_r = a % b
    trunc_q = -(abs(a) // abs(b)) if (a < 0) != (b < 0) else abs(a) // abs(b)
    trunc_r = a - b * trunc_q
    abs_r = abs(a) % abs(b)
    true = a / b

    trunc = "assuming // truncates toward zero and % takes the sign of the dividend, as in C or Java"
    floor_rule = (
        f"// rounds down toward negative infinity, so {a} // {b} is {floor_q}, and % takes the sign "
        f"of the divisor so that ({x} // {y}) * {y} + {x} % {y} == {x}."
    )
    b_literal = str(b)
    if form == "floor_mod":
        body = f"print({x} // {y}, {x} % {y})"
        why = floor_rule
        candidates: list[Candidate] = [
            (f"{trunc_q} {trunc_r}", trunc),
            (f"{floor_q} {abs_r}", "thinking % ignores the signs of its operands"),
            (f"{float(floor_q)} {floor_r}", "expecting // to return a float, like /"),
        ]
        fallbacks: tuple[str | None, ...] = (f"{trunc_q} {floor_r}", f"{floor_q} {trunc_r}")
    elif form == "floor_true":
        body = f"print({x} // {y}, {x} / {y})"
        why = f"// rounds down toward negative infinity, giving {floor_q}, while / always gives a float, {true}."
        candidates = [
            (f"{trunc_q} {true}", "assuming // truncates toward zero, as integer division does in C or Java"),
            (
                f"{floor_q} {floor_q}",
                "assuming / between two ints also gives a rounded-down int, as in Python 2",
            ),
            (f"{float(floor_q)} {true}", "expecting // to return a float, like /"),
        ]
        fallbacks = (f"{trunc_q} {trunc_q}", f"{floor_q} {float(trunc_q)}")
    elif form == "divmod":
        body = f"print(divmod({x}, {y}))"
        why = f"divmod returns the pair ({x} // {y}, {x} % {y}); " + floor_rule
        candidates = [
            (f"({trunc_q}, {trunc_r})", trunc),
            (f"({floor_q}, {abs_r})", "thinking the remainder ignores the signs of the operands"),
            (f"({true}, {floor_r})", "thinking divmod returns the true quotient"),
        ]
        fallbacks = (f"[{floor_q}, {floor_r}]", f"({trunc_q}, {floor_r})")
    elif form == "floor_int":
        body = f"print({x} // {y}, int({x} / {y}))"
        why = (
            f"// rounds down toward negative infinity, giving {floor_q}, whereas int() simply drops the "
            f"fractional part of {true}, which rounds toward zero."
        )
        candidates = [
            (f"{trunc_q} {trunc_q}", "assuming // truncates toward zero just like int()"),
            (f"{floor_q} {floor_q}", "believing int() rounds down toward negative infinity, like //"),
            (f"{float(floor_q)} {trunc_q}", "expecting // to return a float, like /"),
        ]
        fallbacks = (f"{floor_q} {true}", f"{trunc_q} {floor_q}")
    elif form == "float_floor":
        b_literal = f"{float(b)}"
        body = f"print({x} // {y}, {x} % {y})"
        why = (
            "when either operand is a float, // and % return floats; // still rounds down toward "
            "negative infinity and % takes the sign of the divisor."
        )
        candidates = [
            (f"{floor_q} {floor_r}", "expecting // and % to return ints even though one operand is a float"),
            (f"{float(trunc_q)} {float(trunc_r)}", trunc),
            (f"{true} {float(floor_r)}", "confusing // with true division /"),
        ]
        fallbacks = (f"{float(floor_q)} {floor_r}", f"{float(floor_q)} {float(abs_r)}")
    else:
        body = f"q = {x} // {y}\nr = {x} % {y}\nprint(q, r, q * {y} + r)"
        why = floor_rule
        candidates = [
            (f"{trunc_q} {trunc_r} {a}", trunc),
            (f"{floor_q} {abs_r} {floor_q * b + abs_r}", "thinking % ignores the signs of its operands"),
            (f"{float(floor_q)} {floor_r} {float(a)}", "expecting // to return a float, like /"),
        ]
        fallbacks = (
            f"{trunc_q} {floor_r} {trunc_q * b + floor_r}",
            f"{floor_q} {trunc_r} {floor_q * b + trunc_r}",
        )
    code = f"{x} = {a}\n{y} = {b_literal}\n{body}"
    return _finish(
        rng,
        name="division",
        difficulty="medium",
        title="Floor division and modulo with negatives",
        code=code,
        why=why,
        candidates=candidates,
        fallbacks=fallbacks,
    )


# --- dict ordering, get and setdefault ----------------------------------------------------------


def _dict_text(items: Iterable[tuple[str, int]]) -> str:
    return str(dict(items))


def build_dict_order(rng: random.Random) -> ProceduralChallenge:
    variant = rng.choice(("counting", "get_setdefault", "reinsert"))
    if variant == "counting":
        keys = rng.sample(FRUITS, rng.randint(3, 4))
        words = keys + rng.choices(keys, k=rng.randint(2, 3))
        rng.shuffle(words)
        use_setdefault = rng.random() < 0.5
        loop = "\n".join(
            (
                f"for word in {words!r}:",
                "    counts.setdefault(word, 0)\n    counts[word] += 1"
                if use_setdefault
                else "    counts[word] = counts.get(word, 0) + 1",
            )
        )
        code = f"counts = {{}}\n{loop}\nprint(counts)"
        title = "Counting with setdefault" if use_setdefault else "Counting with dict.get"
        order = list(dict.fromkeys(words))
        tally = {key: words.count(key) for key in order}
        last_seen = sorted(order, key=lambda key: max(i for i, w in enumerate(words) if w == key))
        why = "a dict keeps keys in the order they were first inserted, and " + (
            "setdefault() only inserts 0 for a missing key, so existing counts keep growing."
            if use_setdefault
            else "get() returns the current count (or 0 for a new key), so each word is tallied."
        )
        candidates: list[Candidate] = [
            (_dict_text(sorted(tally.items())), "assuming a dict keeps its keys sorted"),
            (
                _dict_text((key, tally[key]) for key in last_seen),
                "thinking that updating a key moves it to the end of the dict",
            ),
            (
                _dict_text((key, 1) for key in order),
                "believing setdefault() resets an existing key to 0 on every call"
                if use_setdefault
                else "believing get() always returns its default",
            ),
        ]
        fallbacks: tuple[str | None, ...] = (
            f"KeyError: {words[0]!r}",
            _dict_text((key, tally[key] + 1) for key in order),
            _dict_text(sorted(tally.items(), key=lambda item: -item[1])),
        )
    elif variant == "get_setdefault":
        k1, k2, missing, added = rng.sample(FRUITS, 4)
        v1, v2 = rng.sample(range(1, 10), 2)
        existing, existing_value = rng.choice(((k1, v1), (k2, v2)))
        get_default = rng.choice((0, None, rng.randint(10, 20)))
        add_value = rng.randint(1, 9)
        overwrite_value = rng.choice([v for v in range(1, 10) if v != existing_value])
        get_call = (
            f'stock.get("{missing}")' if get_default is None else f'stock.get("{missing}", {get_default})'
        )
        code = "\n".join(
            (
                f'stock = {{"{k1}": {v1}, "{k2}": {v2}}}',
                f"a = {get_call}",
                f'b = stock.setdefault("{added}", {add_value})',
                f'c = stock.setdefault("{existing}", {overwrite_value})',
                "print(a, b, c, list(stock))",
            )
        )
        title = "dict.get versus dict.setdefault"
        why = (
            "get() only reads and never inserts, while setdefault() inserts the default for a missing key "
            "at the end and returns the existing value, untouched, for a present one."
        )
        keys = [k1, k2, added]

        def line(c: int, key_list: list[str]) -> str:
            return f"{get_default} {add_value} {c} {key_list}"

        candidates = [
            (line(overwrite_value, keys), "thinking setdefault() overwrites a key that already exists"),
            (
                line(existing_value, [k1, k2, missing, added]),
                "believing get() with a default also inserts the missing key",
            ),
            (line(existing_value, [k1, k2]), "thinking setdefault() returns the default without storing it"),
            (line(existing_value, sorted(keys)), "assuming a dict lists its keys in sorted order"),
        ]
        fallbacks = (f"KeyError: '{missing}'", f"None {add_value} {existing_value} {keys}")
    else:
        keys = rng.sample(("x", "y", "z", "w", "v", "u"), rng.randint(3, 4))
        values = rng.sample(range(1, 10), len(keys))
        removed = rng.choice(keys[:-1])
        updated = rng.choice([key for key in keys if key != removed])
        new_removed, new_updated = rng.sample(range(10, 30), 2)
        use_pop = rng.random() < 0.5
        update_first = rng.random() < 0.5
        literal = "{" + ", ".join(f'"{k}": {v}' for k, v in zip(keys, values)) + "}"
        steps = [f'd["{removed}"] = {new_removed}', f'd["{updated}"] = {new_updated}']
        if update_first:
            steps.reverse()
        code = "\n".join(
            (
                f"d = {literal}",
                f'd.pop("{removed}")' if use_pop else f'del d["{removed}"]',
                *steps,
                "print(d)",
            )
        )
        title = "Dict order after deleting and re-adding"
        why = (
            f'removing "{removed}" and adding it again inserts it as a new key at the end, while assigning '
            f'to the existing key "{updated}" changes its value but keeps its position.'
        )
        final = dict(zip(keys, values))
        final[removed] = new_removed
        final[updated] = new_updated
        original_order = list(keys)
        # "Every assignment moves the key to the end": replay the assignments in order.
        moved = [key for key in keys if key not in (removed, updated)]
        for key in (updated, removed) if update_first else (removed, updated):
            moved.append(key)
        candidates = [
            (
                _dict_text((key, final[key]) for key in original_order),
                "thinking a deleted key that is added again goes back to its original position",
            ),
            (
                _dict_text((key, final[key]) for key in moved),
                "thinking that assigning to an existing key moves it to the end",
            ),
            (_dict_text((key, final[key]) for key in sorted(keys)), "assuming a dict keeps its keys sorted"),
        ]
        fallbacks = (
            f"KeyError: '{removed}'",
            _dict_text((key, final[key]) for key in reversed(original_order)),
        )
    return _finish(
        rng,
        name="dict_order",
        difficulty="medium",
        title=title,
        code=code,
        why=why,
        candidates=candidates,
        fallbacks=fallbacks,
    )


# --- mutable default arguments ------------------------------------------------------------------


def build_mutable_default(rng: random.Random) -> ProceduralChallenge:
    func = rng.choice(("add", "collect", "remember", "push", "record"))
    param = rng.choice(("bucket", "items", "acc", "log", "seen"))
    kind = rng.choice(("append", "append", "iadd", "concat", "none_sentinel"))
    calls = rng.randint(3, 4)
    if rng.random() < 0.5:
        values: list = rng.sample(range(1, 10), calls)
        seed_value = 0
    else:
        values = rng.sample(list("abcdefgh"), calls)
        seed_value = "z"
    explicit_at = rng.choice((None, *range(calls)))
    explicit_init = rng.choice(([], [seed_value]))

    if kind == "none_sentinel":
        header = [
            f"def {func}(item, {param}=None):",
            f"    if {param} is None:",
            f"        {param} = []",
            f"    {param}.append(item)",
        ]
    else:
        op = {
            "append": f"{param}.append(item)",
            "iadd": f"{param} += [item]",
            "concat": f"{param} = {param} + [item]",
        }[kind]
        header = [f"def {func}(item, {param}=[]):", f"    {op}"]
    header.append(f"    return {param}")
    results = ("a", "b", "c", "d")[:calls]
    call_lines = []
    for i, (name, value) in enumerate(zip(results, values)):
        extra = f", {explicit_init!r}" if i == explicit_at else ""
        call_lines.append(f"{name} = {func}({value!r}{extra})")
    code = "\n".join((*header, "", *call_lines, f"print({', '.join(results)})"))

    def simulate(mode: str) -> str:
        default: list = []
        out = []
        for i, value in enumerate(values):
            if i == explicit_at:
                target = list(explicit_init)
            elif mode == "fresh":
                target = []
            else:
                target = default
            target.append(value)
            out.append(list(target) if mode == "snapshot" else target)
        return " ".join(str(item) for item in out)

    shared_really = kind in ("append", "iadd")
    own_list = (
        "; the call that passes its own list works on a separate list" if explicit_at is not None else ""
    )
    snapshot = (
        "forgetting that every name bound to the default refers to the same list object, "
        "which keeps growing after it is returned"
    )
    if shared_really:
        title = "Mutable default argument"
        why = (
            f"the default list is created once, when def runs, so every call that omits {param} "
            "mutates that same list and all names bound to it show its final contents" + own_list + "."
        )
        candidates: list[Candidate] = [
            (simulate("fresh"), "believing a fresh default list is created on every call"),
            (simulate("snapshot"), snapshot),
        ]
    else:
        if kind == "concat":
            title = "Default list rebound, not mutated"
            why = (
                f"{param} = {param} + [item] builds a new list and rebinds the local name, so the shared "
                "default is never modified and each call returns its own list."
            )
            shared = f"assuming the default list is shared, although {param} + [item] creates a new list"
        else:
            title = "The None default idiom"
            why = (
                "the default is None, so each call that omits the argument creates a brand-new empty "
                "list and no state is shared between calls."
            )
            shared = "assuming the list is shared between calls as with a mutable default"
        candidates = [
            (simulate("shared"), shared),
            (
                simulate("snapshot"),
                "thinking one list is shared but each result is a copy taken at return time",
            ),
        ]
    fallbacks = (
        " ".join(["None"] * calls),
        str(values),
        " ".join(["[]"] * calls),
    )
    return _finish(
        rng,
        name="mutable_default",
        difficulty="medium",
        title=title,
        code=code,
        why=why,
        candidates=candidates,
        fallbacks=fallbacks,
    )


# --- late-binding closures ----------------------------------------------------------------------

LAMBDA_BODIES: tuple[tuple[str, Callable[[int, int], int]], ...] = (
    ("x * {v}", lambda x, v: x * v),
    ("x + {v}", lambda x, v: x + v),
    ("{v} - x", lambda x, v: v - x),
    ("x * 10 + {v}", lambda x, v: x * 10 + v),
    ("{v} ** 2 + x", lambda x, v: v**2 + x),
)


def build_late_binding(rng: random.Random) -> ProceduralChallenge:
    variant = rng.choice(("comprehension", "default_arg", "loop", "generator"))
    v = rng.choice(("i", "n", "k"))
    template, apply = rng.choice(LAMBDA_BODIES)
    body = template.format(v=v)
    start = rng.randint(0, 2)
    count = rng.randint(3, 4)
    loop_values = list(range(start, start + count))
    range_text = f"range({start + count})" if start == 0 else f"range({start}, {start + count})"
    arg = rng.randint(2, 5)
    reassigned = rng.choice((None, 10, 100)) if variant == "loop" else None
    ends = variant != "generator" and rng.random() < 0.3

    params = f"x, {v}={v}" if variant == "default_arg" else "x"
    if variant in ("comprehension", "default_arg"):
        lines = [f"funcs = [lambda {params}: {body} for {v} in {range_text}]"]
    elif variant == "generator":
        lines = [f"funcs = (lambda x: {body} for {v} in {range_text})"]
    else:
        lines = ["funcs = []", f"for {v} in {range_text}:", f"    funcs.append(lambda x: {body})"]
        if reassigned is not None:
            lines.append(f"{v} = {reassigned}")
    if ends:
        lines.append(f"print(funcs[0]({arg}), funcs[-1]({arg}))")
    else:
        lines.append(f"print([f({arg}) for f in funcs])")
    code = "\n".join(lines)

    def show(results: list[int]) -> str:
        return f"{results[0]} {results[-1]}" if ends else str(results)

    early = show([apply(arg, value) for value in loop_values])
    late = show([apply(arg, loop_values[-1])] * count)
    first = show([apply(arg, loop_values[0])] * count)
    name_error = f"NameError: name '{v}' is not defined"
    early_binding = f"assuming each lambda captures the value {v} had when the lambda was created"
    if variant == "comprehension" or (variant == "loop" and reassigned is None):
        title = "Late-binding closures in a loop"
        why = (
            f"the lambdas do not store {v}; they look it up when called, and by then the loop has "
            f"finished with {v} = {loop_values[-1]}."
        )
        candidates: list[Candidate] = [
            (early, early_binding),
            (first, f"thinking every lambda sees the first value of {v}"),
            (name_error, f"believing {v} no longer exists once the loop has finished"),
        ]
    elif variant == "default_arg":
        title = "Capturing a loop variable with a default argument"
        why = (
            f"the default {v}={v} is evaluated as each lambda is created, so every function keeps "
            f"its own value of {v}."
        )
        candidates = [
            (
                late,
                f"forgetting that the default argument {v}={v} freezes the current value at creation time",
            ),
            (first, f"thinking every lambda sees the first value of {v}"),
            (f"TypeError: <lambda>() missing 1 required positional argument: '{v}'", None),
        ]
    elif variant == "loop":
        title = "Closures reading a reassigned global"
        why = (
            f"the lambdas look up the global {v} only when called, and by then it has been "
            f"reassigned to {reassigned}."
        )
        candidates = [
            (late, f"assuming the lambdas keep the value {v} had when the loop ended"),
            (early, early_binding),
            (first, f"thinking every lambda sees the first value of {v}"),
        ]
    else:
        title = "Lambdas from a lazy generator"
        why = (
            "the generator is lazy: each lambda is created and called before the generator resumes "
            f"and moves {v} on, so every call sees the value current at that moment."
        )
        candidates = [
            (
                late,
                "applying the late-binding rule without noticing that each lambda is called before the generator advances",
            ),
            (first, f"thinking every lambda sees the first value of {v}"),
            (name_error, f"believing {v} is not visible outside the generator expression"),
        ]
    return _finish(
        rng,
        name="late_binding",
        difficulty="hard",
        title=title,
        code=code,
        why=why,
        candidates=candidates,
        fallbacks=(late, early, first, "[]", name_error),
    )


# --- generator exhaustion -----------------------------------------------------------------------

GEN_BODIES: tuple[tuple[str, Callable[[int], int]], ...] = (
    ("n * n", lambda n: n * n),
    ("n + 1", lambda n: n + 1),
    ("n * 2", lambda n: n * 2),
    ("n * 10", lambda n: n * 10),
    ("n - 1", lambda n: n - 1),
)
CONSUMERS: dict[str, Callable[[list[int]], object]] = {
    "sum": sum,
    "max": max,
    "min": min,
    "sorted": sorted,
    "list": list,
}


def build_generator_exhaustion(rng: random.Random) -> ProceduralChallenge:
    variant = rng.choice(("consume_twice", "membership", "next_then_list", "zip_same_iterator"))
    restart = "expecting the generator to start over when it is iterated again"
    stop_iteration = "StopIteration"
    if variant == "consume_twice":
        nums = rng.sample(range(1, 10), rng.randint(3, 5))
        template, apply = rng.choice(GEN_BODIES)
        values = [apply(n) for n in nums]
        consumer = rng.choice(tuple(CONSUMERS))
        first_result = CONSUMERS[consumer](values)
        use_list = rng.random() < 0.3
        name = rng.choice(("squares", "results", "gen", "stream"))
        source = f"[{template} for n in nums]" if use_list else f"({template} for n in nums)"
        code = f"nums = {nums!r}\n{name} = {source}\nfirst = {consumer}({name})\nprint(first, list({name}))"
        if use_list:
            title = "A list can be iterated again"
            why = (
                f"{name} is a list built by a list comprehension, not a generator, so it can be "
                f"iterated any number of times and {consumer}() leaves it intact."
            )
            candidates: list[Candidate] = [
                (
                    f"{first_result} []",
                    "treating the list comprehension like a one-shot generator expression",
                ),
                (f"{first_result} None", "thinking list() of an already used iterable gives None"),
            ]
        else:
            title = "Iterating a generator twice"
            why = (
                f"{consumer}() pulls every item out of the generator, so it is exhausted and the "
                "second pass with list() finds nothing left."
            )
            candidates = [
                (f"{first_result} {values}", restart),
                (stop_iteration, "thinking list() raises StopIteration on an exhausted generator"),
                (f"{first_result} None", "thinking list() of an exhausted generator returns None"),
            ]
        fallbacks: tuple[str | None, ...] = (f"{first_result} {values[1:]}", f"{values} {values}")
    elif variant == "membership":
        nums = rng.sample(range(1, 20), rng.randint(5, 6))
        found = rng.random() < 0.7
        if found:
            index = rng.randint(0, len(nums) - 2)
            target = nums[index]
        else:
            index = len(nums)
            target = rng.choice([n for n in range(1, 20) if n not in nums])
        source = rng.choice(("iter(nums)", "(n for n in nums)"))
        code = f"nums = {nums!r}\nit = {source}\nprint({target} in it, list(it))"
        title = "The in operator consumes an iterator"
        if found:
            why = (
                f"the in operator pulls items from the iterator until it finds {target}, so {target} and everything "
                "before it are consumed and list() gets only what follows."
            )
        else:
            why = f"the in operator has to pull every item looking for {target}, so the iterator is exhausted afterwards."
        candidates = [
            (f"{found} {nums}", "thinking the in test does not consume anything from the iterator"),
            (f"{found} {nums[index:]}", "thinking the search stops just before the matching item"),
            (f"{found} []", "assuming in always exhausts the whole iterator"),
            (f"{not found} {nums[index + 1 :]}", None),
        ]
        fallbacks = (f"{found} None", stop_iteration)
    elif variant == "next_then_list":
        nums = rng.sample(range(1, 10), rng.randint(4, 5))
        template, apply = rng.choice(GEN_BODIES)
        values = [apply(n) for n in nums]
        skips = rng.randint(1, 2)
        code = "\n".join(
            (
                f"nums = {nums!r}",
                f"gen = ({template} for n in nums)",
                *(["next(gen)"] * skips),
                "print(next(gen), list(gen))",
            )
        )
        title = "next() advances a generator"
        why = (
            f"each next() call consumes one item, so after {skips} discarded call{'s' if skips > 1 else ''} the printed next() "
            "returns the following item and list() collects only what remains after it."
        )
        candidates = [
            (f"{values[0]} {values}", "thinking each next() or list() call starts from the beginning"),
            (
                f"{values[skips]} {values[skips:]}",
                "expecting list() to include the item next() just returned",
            ),
            (
                f"{values[skips - 1]} {values[skips:]}",
                "thinking next() peeks at the current item before advancing",
            ),
        ]
        fallbacks = (f"{values[skips]} []", stop_iteration)
    else:
        if rng.random() < 0.5:
            data: list = rng.sample(range(1, 10), rng.randint(4, 7))
        else:
            data = rng.sample(list("abcdefghij"), rng.randint(4, 7))
        code = f"data = {data!r}\nit = iter(data)\nprint(list(zip(it, it)))"
        title = "zip() over the same iterator twice"
        why = "both arguments are the same iterator, so zip() takes alternate items for each pair" + (
            " and drops the unpaired last item." if len(data) % 2 else ", giving consecutive pairs."
        )
        pairs = list(zip(data[::2], data[1::2]))
        candidates = [
            (
                str([(item, item) for item in data]),
                "assuming each argument to zip() gets its own independent pass over the data",
            ),
            (str(list(zip(data, data[1:]))), "expecting overlapping pairs, like a sliding window"),
            (
                str(pairs + [(data[-1],)]) if len(data) % 2 else None,
                "expecting the leftover item in a final short tuple",
            ),
            (
                str(pairs + [(data[-1], None)]) if len(data) % 2 else None,
                "expecting zip() to pad the last pair with None",
            ),
            (str(pairs[:-1]), "thinking the last pair is lost"),
        ]
        fallbacks = (str(data), "[]")
    return _finish(
        rng,
        name="generator_exhaustion",
        difficulty="hard",
        title=title,
        code=code,
        why=why,
        candidates=candidates,
        fallbacks=fallbacks,
    )


GENERATORS: tuple[SnippetGenerator, ...] = (
    SnippetGenerator(name="slicing", difficulty="easy", build=build_slicing),
    SnippetGenerator(name="string_methods", difficulty="easy", build=build_string_methods),
    SnippetGenerator(name="division", difficulty="medium", build=build_division),
    SnippetGenerator(name="dict_order", difficulty="medium", build=build_dict_order),
    SnippetGenerator(name="mutable_default", difficulty="medium", build=build_mutable_default),
    SnippetGenerator(name="late_binding", difficulty="hard", build=build_late_binding),
    SnippetGenerator(name="generator_exhaustion", difficulty="hard", build=build_generator_exhaustion),
)


def generators_for(*, difficulty: str, topic: str) -> tuple[SnippetGenerator, ...]:
    """The generators for this difficulty and topic (every generator is about Python)."""
    if topic != TOPIC:
        return ()
    return tuple(generator for generator in GENERATORS if generator.difficulty == difficulty)
