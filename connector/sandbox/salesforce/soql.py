"""A real SOQL subset: tokenizer, recursive-descent parser, and an evaluator over typed records.

Nothing here calls eval; input that does not fit the grammar raises `SoqlError` (MALFORMED_QUERY)
and names the column, which is what a connector sees from Salesforce for malformed input.
Grammar (keywords case-insensitive):

    query   := SELECT (COUNT '(' ')' | field (',' field)*) FROM name
               [WHERE cond] [ORDER BY order (',' order)*] [LIMIT int]
    cond    := unary ((AND unary)* | (OR unary)*)      -- mixing AND/OR needs parentheses, as in SOQL
    unary   := NOT unary | '(' cond ')' | field op value | field [NOT] IN '(' value,... ')'
               | field LIKE string
    order   := field [ASC|DESC] [NULLS (FIRST|LAST)]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

Value = str | float | bool | datetime | date | None


class SoqlError(Exception):
    """A query Salesforce would refuse; `code` is the REST errorCode."""

    def __init__(self, message: str, code: str = "MALFORMED_QUERY") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\w:]))
  | (?P<number>[+-]?\d+(?:\.\d+)?(?![\w.]))
  | (?P<name>[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)
_ESCAPES = {"'": "'", '"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
_LIKE_ESCAPES = {"%", "_"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    col: int  # 1-based, as Salesforce reports it

    def kw(self, word: str) -> bool:
        return self.kind == "name" and self.text.upper() == word


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise SoqlError(f"unexpected character {text[pos]!r} at column {pos + 1}")
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos + 1))
        pos = m.end()
    tokens.append(Token("eof", "<EOF>", len(text) + 1))
    return tokens


def _unquote(raw: str, col: int, *, like: bool) -> str:
    """Decode a quoted literal; in LIKE patterns `\\%` and `\\_` stay escaped for the matcher."""
    out: list[str] = []
    body = raw[1:-1]
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt in _ESCAPES:
                out.append("\\\\" if like and nxt == "\\" else _ESCAPES[nxt])
            elif nxt in _LIKE_ESCAPES:
                out.append("\\" + nxt if like else nxt)
            else:
                raise SoqlError(f"Invalid string literal {raw}: illegal escape sequence at column {col}")
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def parse_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# ---- AST -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: str  # = != < <= > >= IN NOTIN LIKE
    value: Any  # Value, tuple of Values for IN, compiled regex for LIKE


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # AND / OR
    parts: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    inner: Expr


Expr = Compare | BoolOp | Not


@dataclass(frozen=True, slots=True)
class OrderItem:
    field: str
    descending: bool
    nulls_last: bool


@dataclass(frozen=True, slots=True)
class Query:
    sobject: str
    fields: tuple[str, ...]  # empty for COUNT()
    count: bool
    where: Expr | None
    order: tuple[OrderItem, ...]
    limit: int | None


Resolver = Callable[[str, str], tuple[str, str]]  # (sobject, field) -> (canonical name, type)


class _Parser:
    def __init__(self, text: str, sobjects: Mapping[str, str], resolve: Resolver) -> None:
        self.toks = tokenize(text)
        self.i = 0
        self.sobjects = sobjects
        self.resolve = resolve
        self.sobject = ""
        self.types: dict[str, str] = {}

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def fail(self) -> SoqlError:
        return SoqlError(f"unexpected token: '{self.tok.text}' at column {self.tok.col}")

    def take(self) -> Token:
        tok = self.tok
        self.i += 1
        return tok

    def expect_kw(self, word: str) -> None:
        if not self.tok.kw(word):
            raise self.fail()
        self.i += 1

    def expect(self, text: str) -> None:
        if self.tok.text != text:
            raise self.fail()
        self.i += 1

    def query(self) -> Query:
        self.expect_kw("SELECT")
        count = False
        raw_fields: list[Token] = []
        if self.tok.kw("COUNT") and self.toks[self.i + 1].text == "(":
            self.i += 2
            self.expect(")")
            count = True
        else:
            raw_fields.append(self.name())
            while self.tok.text == ",":
                self.i += 1
                raw_fields.append(self.name())
        self.expect_kw("FROM")
        sob = self.name()
        if sob.text.lower() not in self.sobjects:
            raise SoqlError(f"sObject type '{sob.text}' is not supported.", "INVALID_TYPE")
        self.sobject = self.sobjects[sob.text.lower()]
        fields = tuple(dict.fromkeys(self.field(t) for t in raw_fields))
        where = None
        if self.tok.kw("WHERE"):
            self.i += 1
            where = self.cond()
        order: list[OrderItem] = []
        if self.tok.kw("ORDER"):
            self.i += 1
            self.expect_kw("BY")
            order.append(self.order_item())
            while self.tok.text == ",":
                self.i += 1
                order.append(self.order_item())
        limit = None
        if self.tok.kw("LIMIT"):
            self.i += 1
            if self.tok.kind != "number" or not self.tok.text.isdigit():
                raise self.fail()
            limit = int(self.take().text)
        if self.tok.kind != "eof":
            raise self.fail()
        return Query(self.sobject, fields, count, where, tuple(order), limit)

    def name(self) -> Token:
        if self.tok.kind != "name" or self.tok.text.upper() in _RESERVED:
            raise self.fail()
        return self.take()

    def field(self, tok: Token) -> str:
        canonical, type_ = self.resolve(self.sobject, tok.text)
        self.types[canonical] = type_
        return canonical

    def order_item(self) -> OrderItem:
        name = self.field(self.name())
        desc = False
        if self.tok.kw("ASC") or self.tok.kw("DESC"):
            desc = self.take().text.upper() == "DESC"
        nulls_last = False
        if self.tok.kw("NULLS"):
            self.i += 1
            if not (self.tok.kw("FIRST") or self.tok.kw("LAST")):
                raise self.fail()
            nulls_last = self.take().text.upper() == "LAST"
        return OrderItem(name, desc, nulls_last)

    def cond(self) -> Expr:
        parts = [self.unary()]
        joiner = None
        while self.tok.kw("AND") or self.tok.kw("OR"):
            word = self.tok.text.upper()
            if joiner is not None and word != joiner:
                raise self.fail()  # SOQL requires parentheses when mixing AND and OR
            joiner = word
            self.i += 1
            parts.append(self.unary())
        return parts[0] if joiner is None else BoolOp(joiner, tuple(parts))

    def unary(self) -> Expr:
        if self.tok.kw("NOT"):
            self.i += 1
            return Not(self.unary())
        if self.tok.text == "(":
            self.i += 1
            inner = self.cond()
            self.expect(")")
            return inner
        name = self.field(self.name())
        if self.tok.kind == "op":
            op = self.take().text.replace("<>", "!=")
            return Compare(name, op, self.value(name))
        negate = False
        if self.tok.kw("NOT"):
            self.i += 1
            negate = True
            if not self.tok.kw("IN"):
                raise self.fail()
        if self.tok.kw("IN"):
            self.i += 1
            self.expect("(")
            values = [self.value(name)]
            while self.tok.text == ",":
                self.i += 1
                values.append(self.value(name))
            self.expect(")")
            return Compare(name, "NOTIN" if negate else "IN", tuple(values))
        if self.tok.kw("LIKE"):
            self.i += 1
            tok = self.take()
            if tok.kind != "string":
                raise SoqlError(f"LIKE needs a quoted string at column {tok.col}")
            return Compare(name, "LIKE", _like_regex(_unquote(tok.text, tok.col, like=True)))
        raise self.fail()

    def value(self, field: str) -> Value:
        tok = self.take()
        ftype = self.types[field]
        if tok.kind == "name" and tok.text.upper() in ("NULL", "TRUE", "FALSE"):
            word = tok.text.upper()
            if word == "NULL":
                return None
            if ftype != "boolean":
                raise _type_error(field, ftype)
            return word == "TRUE"
        if tok.kind == "string":
            if ftype in ("datetime", "date", "boolean", "double", "int", "currency", "percent"):
                raise _type_error(field, ftype)
            return _unquote(tok.text, tok.col, like=False)
        if tok.kind == "datetime":
            if ftype != "datetime":
                raise _type_error(field, ftype)
            try:
                return parse_datetime(tok.text)
            except ValueError as exc:
                raise SoqlError(f"invalid datetime {tok.text} at column {tok.col}") from exc
        if tok.kind == "date":
            if ftype not in ("date", "datetime"):
                raise _type_error(field, ftype)
            try:
                day = date.fromisoformat(tok.text)
            except ValueError as exc:
                raise SoqlError(f"invalid date {tok.text} at column {tok.col}") from exc
            if ftype == "datetime":
                raise _type_error(field, ftype)
            return day
        if tok.kind == "number":
            if ftype not in ("double", "int", "currency", "percent"):
                raise _type_error(field, ftype)
            return float(tok.text)
        self.i -= 1
        raise self.fail()


_RESERVED = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "LIMIT", "NULL"}
_RESERVED |= {"TRUE", "FALSE", "ASC", "DESC", "NULLS"}


def _type_error(field: str, ftype: str) -> SoqlError:
    return SoqlError(
        f"value of filter criterion for field '{field}' must be of type {ftype} "
        "and should not be enclosed in quotes"
        if ftype in ("datetime", "date", "boolean", "double", "int")
        else f"value of filter criterion for field '{field}' must be of type {ftype}",
        "INVALID_FIELD",
    )


def _like_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def parse(text: str, sobjects: Mapping[str, str], resolve: Resolver) -> Query:
    """Parse `text`; `sobjects` maps lower-case names to canonical ones, `resolve` checks fields."""
    return _Parser(text, sobjects, resolve).query()


# ---- evaluation --------------------------------------------------------------------------
def _norm(value: Value) -> Any:
    """SOQL compares text case-insensitively; datetimes compare as instants."""
    if isinstance(value, str):
        return value.casefold()
    return value


def _compare(actual: Value, op: str, wanted: Any) -> bool:
    if op == "IN":
        return any(_compare(actual, "=", w) for w in wanted)
    if op == "NOTIN":
        return not _compare(actual, "IN", wanted)
    if op == "LIKE":
        return isinstance(actual, str) and wanted.fullmatch(actual) is not None
    a, w = _norm(actual), _norm(wanted)
    if op == "=":
        return bool(a == w)
    if op == "!=":
        return bool(a != w)
    if a is None or w is None:
        return False
    try:
        return bool({"<": a < w, "<=": a <= w, ">": a > w, ">=": a >= w}[op])
    except TypeError:
        return False


def matches(expr: Expr | None, record: Mapping[str, Value]) -> bool:
    if expr is None:
        return True
    if isinstance(expr, Not):
        return not matches(expr.inner, record)
    if isinstance(expr, BoolOp):
        parts = (matches(p, record) for p in expr.parts)
        return all(parts) if expr.op == "AND" else any(parts)
    return _compare(record.get(expr.field), expr.op, expr.value)


def _sort_key(field: str) -> Callable[[Mapping[str, Value]], Any]:
    return lambda rec: _norm(rec[field])


def sort_records(records: list[dict[str, Value]], order: tuple[OrderItem, ...]) -> list[dict[str, Value]]:
    """Stable multi-key sort: apply keys from last to first; nulls placed per NULLS FIRST/LAST."""
    out = list(records)
    for item in reversed(order):
        present = [r for r in out if r.get(item.field) is not None]
        absent = [r for r in out if r.get(item.field) is None]
        present.sort(key=_sort_key(item.field), reverse=item.descending)
        out = present + absent if item.nulls_last else absent + present
    return out
