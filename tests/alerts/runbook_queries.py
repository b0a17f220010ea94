"""The queries written in runbooks/, parsed, and small evaluators that run them over the JSON
lines the app writes: the subset of CloudWatch Logs Insights and of metric filter patterns the
runbooks use. A query outside the subset fails to parse; extend the parser, never skip it.

Used by tests/alerts/test_runbook_contract.py, which runs them against a real scenario.
"""

import re
import shlex
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Line = dict[str, Any]
Predicate = Callable[[Line], bool]

LOG_GROUP = re.compile(r"/ragassist/prod/(api|worker)\b")
_FENCE = re.compile(r"^ *```(\w*)\n(.*?)^ *```", flags=re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    page: str
    language: str
    text: str
    prose: str  # the text since the previous block: it names the log groups a query runs on

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(sorted(set(LOG_GROUP.findall(self.prose))))


def blocks(root: Path) -> list[Block]:
    found = []
    for page in sorted(root.glob("*.md")):
        text = page.read_text()
        last = 0
        for match in _FENCE.finditer(text):
            body = textwrap.dedent(match[2])
            found.append(Block(page.name, match[1], body, text[last : match.start()]))
            last = match.end()
    return found


def shell_commands(block: Block) -> list[list[str]]:
    """Each command of a `sh` block as argv, continuation lines joined, comments dropped."""
    joined = block.text.replace("\\\n", " ")
    return [argv for line in joined.splitlines() if (argv := shlex.split(line, comments=True))]


# --- tokens shared by both languages ------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<regex>/(?:[^/\\]|\\.)+/)
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op>\|\||&&|!=|<=|>=|=|<|>|\||\(|\)|\[|\]|,|\{|\})
    | (?P<name>[$@A-Za-z_][\w.$@]*)
    )""",
    re.VERBOSE,
)


@dataclass
class _Tokens:
    items: list[tuple[str, str]]
    at: int = 0

    @classmethod
    def of(cls, text: str, *, regexes: bool) -> "_Tokens":
        items, position = [], 0
        text = text.strip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise ValueError(f"cannot parse {text[position:]!r}")
            kind = match.lastgroup
            assert kind is not None
            value = match[kind]
            if kind == "regex" and not regexes:
                raise ValueError(f"unexpected {value!r}")
            items.append((kind, value))
            position = match.end()
        return cls(items)

    def peek(self) -> str | None:
        return self.items[self.at][1] if self.at < len(self.items) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.at >= len(self.items):
            raise ValueError(f"expected {expected or 'more'} at the end")
        kind, value = self.items[self.at]
        if expected is not None and value.lower() != expected:
            raise ValueError(f"expected {expected!r}, found {value!r}")
        self.at += 1
        return kind, value


def _literal(kind: str, value: str) -> Any:
    if kind == "string":
        return bytes(value[1:-1], "utf-8").decode("unicode_escape")
    if kind == "number":
        return float(value)
    raise ValueError(f"expected a string or number, found {value!r}")


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if isinstance(expected, float):
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return False
        return {
            "=": actual == expected,
            "!=": actual != expected,
            "<": actual < expected,
            "<=": actual <= expected,
            ">": actual > expected,
            ">=": actual >= expected,
        }[op]
    if op not in {"=", "!="}:
        raise ValueError(f"{op} compares numbers, not {expected!r}")
    return (actual == expected) is (op == "=")


# --- CloudWatch Logs Insights ------------------------------------------------------------------


@dataclass(frozen=True)
class InsightsQuery:
    shown: tuple[str, ...]  # `fields` and `stats ... by`: every matching line should carry them
    grouped: tuple[str, ...]  # `stats ... by`
    named: frozenset[str]  # every field the query reads
    matches: Predicate


def parse_insights(text: str) -> InsightsQuery:
    tokens = _Tokens.of(text, regexes=True)
    commands: list[list[tuple[str, str]]] = [[]]
    for token in tokens.items:
        if token == ("op", "|"):
            commands.append([])
        else:
            commands[-1].append(token)
    shown: list[str] = []
    grouped: list[str] = []
    named: set[str] = set()
    predicates: list[Predicate] = []
    for command in commands:
        if not command:
            raise ValueError("empty command between pipes")
        verb, rest = command[0][1].lower(), _Tokens(command[1:])
        if verb == "fields":
            shown += _names(rest)
        elif verb == "filter":
            predicates.append(_expression(rest, named))
            if rest.peek() is not None:
                raise ValueError(f"unexpected {rest.peek()!r} after the filter")
        elif verb == "stats":
            while rest.peek() is not None and rest.peek() != "by":
                rest.take()
            if rest.peek() == "by":
                rest.take("by")
                grouped += _names(rest)
        elif verb not in {"sort", "limit", "display"}:
            raise ValueError(f"unsupported command {verb!r}")
    shown += grouped
    named.update(shown)
    return InsightsQuery(
        shown=tuple(name for name in shown if not name.startswith("@")),
        grouped=tuple(grouped),
        named=frozenset(name for name in named if not name.startswith("@")),
        matches=lambda line: all(predicate(line) for predicate in predicates),
    )


def _names(tokens: _Tokens) -> list[str]:
    names = []
    while tokens.peek() is not None:
        kind, value = tokens.take()
        if kind != "name":
            raise ValueError(f"expected a field name, found {value!r}")
        names.append(value)
        if tokens.peek() == ",":
            tokens.take(",")
    return names


def _expression(tokens: _Tokens, named: set[str]) -> Predicate:
    left = _conjunction(tokens, named)
    while tokens.peek() in {"or", "||"}:
        tokens.take()
        right = _conjunction(tokens, named)
        left = (lambda a, b: lambda line: a(line) or b(line))(left, right)
    return left


def _conjunction(tokens: _Tokens, named: set[str]) -> Predicate:
    left = _term(tokens, named)
    while tokens.peek() in {"and", "&&"}:
        tokens.take()
        right = _term(tokens, named)
        left = (lambda a, b: lambda line: a(line) and b(line))(left, right)
    return left


def _term(tokens: _Tokens, named: set[str]) -> Predicate:
    if tokens.peek() == "not":
        tokens.take("not")
        inner = _term(tokens, named)
        return lambda line: not inner(line)
    if tokens.peek() == "(":
        tokens.take("(")
        inner = _expression(tokens, named)
        tokens.take(")")
        return inner
    kind, name = tokens.take()
    if kind != "name":
        raise ValueError(f"expected a field, found {name!r}")
    name = name.removeprefix("$.")
    named.add(name)
    _, op = tokens.take()
    if op == "like":
        kind, pattern = tokens.take()
        if kind == "string":
            return lambda line: _literal(kind, pattern) in str(line.get(name, ""))
        regex = re.compile(pattern[1:-1])
        return lambda line: name in line and regex.search(str(line[name])) is not None
    if op == "in":
        tokens.take("[")
        values = []
        while tokens.peek() != "]":
            values.append(_literal(*tokens.take()))
            if tokens.peek() == ",":
                tokens.take(",")
        tokens.take("]")
        return lambda line: line.get(name) in values
    value = _literal(*tokens.take())
    return lambda line: name in line and _compare(line[name], op, value)


# --- metric filter patterns (`aws logs tail --filter-pattern`) ---------------------------------


@dataclass(frozen=True)
class FilterPattern:
    named: frozenset[str]
    matches: Predicate


def parse_filter_pattern(text: str) -> FilterPattern:
    """A JSON filter pattern, `{ $.level = "error" || $.level = "warning" }`."""
    tokens = _Tokens.of(text, regexes=False)
    tokens.take("{")
    named: set[str] = set()
    predicate = _expression(tokens, named)
    tokens.take("}")
    if tokens.peek() is not None:
        raise ValueError(f"unexpected {tokens.peek()!r} after the pattern")
    return FilterPattern(frozenset(named), predicate)


# --- PromQL selectors ------------------------------------------------------------------------

_SELECTOR = re.compile(r"\b([a-z_:][a-z0-9_:]*)\s*(\{[^}]*\})?\s*(?=\[|\{|\)|$|\s*offset)", re.M)
_MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_BY = re.compile(r"\bby\s*\(([^)]*)\)")
_FUNCTIONS = {"sum", "rate", "increase", "histogram_quantile", "by", "offset", "bool", "vector"}


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[tuple[str, str, str], ...] = field(default=())


def promql_selectors(expression: str) -> tuple[list[Selector], set[str]]:
    """The series selectors of an expression, and the labels it groups by."""
    selectors = [
        Selector(name, tuple(_MATCHER.findall(body or "")))
        for name, body in _SELECTOR.findall(_BY.sub(" ", expression))
        if name not in _FUNCTIONS
    ]
    grouped = {
        label.strip() for labels in _BY.findall(expression) for label in labels.split(",") if label
    }
    return selectors, grouped


def matcher_holds(op: str, expected: str, actual: str) -> bool:
    if op in {"=", "!="}:
        return (actual == expected) is (op == "=")
    return (re.fullmatch(expected, actual) is not None) is (op == "=~")
