"""The SOQL subset leadsync needs: parse once, compile WHERE into a predicate, sort, page.

String comparisons (=, !=, IN, LIKE) are case-insensitive as in Salesforce, ids compare in their
18-char form (a 15-char literal matches), and a literal whose type does not fit the field is an
error, as it is in a real org, rather than a silent non-match.
"""

from __future__ import annotations

import functools
import heapq
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat

from leadsync.emulator.salesforce import dates
from leadsync.emulator.salesforce.exceptions import ApiError, malformed_query
from leadsync.emulator.salesforce.ids import to18

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>'[^'\\]*(?:\\.[^'\\]*)*')  # unrolled: a char class run, not an alternation per char
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
  | (?P<num>[+-]?\d+(?:\.\d+)?)
  | (?P<rel>[A-Za-z_]+:\d+)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"'": "'", '"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
KEYWORDS = {
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC",
    "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "NULL", "TRUE", "FALSE", "COUNT",
}  # fmt: skip


@dataclass(slots=True)  # not frozen: a frozen init costs a setattr call per field, per token
class Tok:
    kind: str
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "ident" else ""


@dataclass(frozen=True)
class Lit:
    kind: str  # str, num, bool, null, date, datetime, relative (a date literal: (name, n))
    value: object
    raw: str = ""  # the undecoded string body, for LIKE


@dataclass
class Cond:
    path: str
    op: str  # = != < <= > >= IN NOTIN LIKE
    value: Lit | list[Lit]


@dataclass
class BoolOp:
    op: str  # AND OR NOT
    items: list


@dataclass
class Query:
    sobject: str
    fields: list[str]
    count: bool = False
    where: object = None
    order: list[tuple[str, bool, bool]] = field(default_factory=list)  # path, desc, nulls_first
    limit: int | None = None
    offset: int | None = None


def tokenize(text: str) -> list[Tok]:
    """The tokens, whitespace dropped. One finditer pass (an IN list of 800 emails is 1,600
    tokens); a match that does not start where the last one ended means the text between
    them is no token: the error names it as a match at that position would."""
    toks: list[Tok] = []
    append = toks.append
    pos = 0
    for m in _TOKEN.finditer(text):
        start = m.start()
        if start != pos:
            break
        kind = m.lastgroup
        pos = m.end()
        if kind != "ws":
            append(Tok(kind, m.group(), start))  # type: ignore[arg-type]
    if pos < len(text):
        snippet = text[pos : pos + 20]
        raise malformed_query(f"unexpected token: '{snippet}'")
    return toks


def decode_string(raw: str) -> str:
    if "\\" not in raw:  # most literals (every email of an IN list) have nothing to decode
        return raw
    out = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            if i + 1 >= len(raw):
                raise malformed_query("Invalid string literal: trailing backslash")
            nxt = raw[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            elif nxt in "_%":
                out.append(nxt)
            else:
                raise malformed_query(
                    f"Invalid string literal '{raw}'. Illegal character sequence '\\{nxt}' in string literal."
                )
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def like_regex(raw: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            out.append(re.escape(_ESCAPES.get(nxt, nxt)))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = tokenize(text)
        self.i = 0

    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def next(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise malformed_query("unexpected end of query")
        self.i += 1
        return tok

    def at_kw(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.upper in words

    def expect_kw(self, word: str) -> None:
        tok = self.next()
        if tok.upper != word:
            raise malformed_query(f"unexpected token: '{tok.text}', expected {word}")

    def expect(self, text: str) -> None:
        tok = self.next()
        if tok.text != text:
            raise malformed_query(f"unexpected token: '{tok.text}', expected '{text}'")

    def ident(self) -> str:
        tok = self.next()
        if tok.kind != "ident" or (tok.upper in KEYWORDS and tok.upper != "COUNT"):
            raise malformed_query(f"unexpected token: '{tok.text}'")
        return tok.text

    def parse(self) -> Query:
        self.expect_kw("SELECT")
        fields: list[str] = []
        count = False
        if self.at_kw("COUNT") and self.peek(1) is not None and self.peek(1).text == "(":  # type: ignore[union-attr]
            self.next()
            self.expect("(")
            self.expect(")")
            count = True
        else:
            fields.append(self.ident())
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.next()
                fields.append(self.ident())
        self.expect_kw("FROM")
        query = Query(sobject=self.ident(), fields=fields, count=count)
        if self.at_kw("WHERE"):
            self.next()
            query.where = self.expr()
        if self.at_kw("ORDER"):
            self.next()
            self.expect_kw("BY")
            query.order.append(self.order_item())
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.next()
                query.order.append(self.order_item())
        if self.at_kw("LIMIT"):
            self.next()
            query.limit = self.integer()
        if self.at_kw("OFFSET"):
            self.next()
            query.offset = self.integer()
        tok = self.peek()
        if tok is not None:
            raise malformed_query(f"unexpected token: '{tok.text}'")
        return query

    def integer(self) -> int:
        tok = self.next()
        if tok.kind != "num" or not tok.text.isdigit():
            raise malformed_query(
                f"unexpected token: '{tok.text}', expected a non-negative integer"
            )
        return int(tok.text)

    def order_item(self) -> tuple[str, bool, bool]:
        path = self.ident()
        desc = False
        if self.at_kw("ASC", "DESC"):
            desc = self.next().upper == "DESC"
        nulls_first = not desc
        if self.at_kw("NULLS"):
            self.next()
            tok = self.next()
            if tok.upper not in ("FIRST", "LAST"):
                raise malformed_query(f"unexpected token: '{tok.text}'")
            nulls_first = tok.upper == "FIRST"
        return path, desc, nulls_first

    def expr(self) -> object:
        items = [self.conj()]
        while self.at_kw("OR"):
            self.next()
            items.append(self.conj())
        return items[0] if len(items) == 1 else BoolOp("OR", items)

    def conj(self) -> object:
        items = [self.unary()]
        while self.at_kw("AND"):
            self.next()
            items.append(self.unary())
        return items[0] if len(items) == 1 else BoolOp("AND", items)

    def unary(self) -> object:
        if self.at_kw("NOT"):
            self.next()
            return BoolOp("NOT", [self.unary()])
        tok = self.peek()
        if tok is not None and tok.text == "(":
            self.next()
            node = self.expr()
            self.expect(")")
            return node
        return self.condition()

    def condition(self) -> Cond:
        path = self.ident()
        tok = self.next()
        if tok.kind == "op":
            op = "!=" if tok.text == "<>" else tok.text
            return Cond(path, op, self.literal())
        word = tok.upper
        if word == "NOT" and self.at_kw("IN"):
            self.next()
            return Cond(path, "NOTIN", self.literal_list())
        if word == "IN":
            return Cond(path, "IN", self.literal_list())
        if word == "LIKE":
            lit = self.literal()
            if lit.kind != "str":
                raise malformed_query("LIKE needs a string literal")
            return Cond(path, "LIKE", lit)
        raise malformed_query(f"unexpected token: '{tok.text}'")

    def literal_list(self) -> list[Lit]:
        self.expect("(")
        items = [self.literal()]
        # `, 'text'` pairs (an IN list of emails or ids) in one loop: what literal() makes of them
        toks, i, end = self.toks, self.i, len(self.toks) - 1
        while i < end and toks[i].text == "," and toks[i + 1].kind == "str":
            raw = toks[i + 1].text[1:-1]
            items.append(Lit("str", decode_string(raw), raw))
            i += 2
        self.i = i
        while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
            self.next()
            items.append(self.literal())
        self.expect(")")
        return items

    def literal(self) -> Lit:
        tok = self.next()
        if tok.kind == "str":
            raw = tok.text[1:-1]
            return Lit("str", decode_string(raw), raw)
        if tok.kind == "num":
            return Lit("num", float(tok.text))
        if tok.kind == "date":
            return Lit("date", tok.text)
        if tok.kind == "datetime":
            return Lit("datetime", parse_datetime(tok.text))
        if tok.kind == "rel":
            name, _, n = tok.text.partition(":")
            if name.upper() not in dates.N_LITERALS:
                raise malformed_query(f"unexpected token: '{tok.text}'")
            return Lit("relative", (name.upper(), int(n)))
        if tok.upper in dates.LITERALS:
            return Lit("relative", (tok.upper, 0))
        if tok.upper in ("TRUE", "FALSE"):
            return Lit("bool", tok.upper == "TRUE")
        if tok.upper == "NULL":
            return Lit("null", None)
        raise malformed_query(f"unexpected token: '{tok.text}'")


def parse(text: str) -> Query:
    return _Parser(text).parse()


@functools.lru_cache(maxsize=1 << 16)
def parse_datetime(text: str) -> datetime:
    """A SOQL or stored datetime. Cached: a WHERE or ORDER BY on a datetime field parses every
    row's value, and rows written in one request share their stamp (datetimes are immutable)."""
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    m = re.match(r"(.*)([+-])(\d{2}):?(\d{2})$", t)
    if m and "T" in t:
        t = f"{m.group(1)}{m.group(2)}{m.group(3)}:{m.group(4)}"
    dt = datetime.fromisoformat(t)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


# --- compiling a WHERE clause -------------------------------------------------------------

STRINGY = frozenset({"string", "textarea", "email", "phone", "url", "picklist", "reference", "id"})
NUMERIC = frozenset({"double", "currency", "percent", "int"})
Resolver = Callable[[str], tuple[Callable[[dict], object], str]]  # path -> (getter, field type)


def _type_error(path: str, ftype: str) -> ApiError:
    return ApiError(
        400,
        "INVALID_FIELD",
        f"value of filter criterion for field '{path}' must be of type {ftype} and should "
        + ("be enclosed in quotes" if ftype in STRINGY else "not be enclosed in quotes"),
    )


@dataclass(frozen=True)
class Span:
    """A date literal resolved for one field: keys [start, end) comparable with its values."""

    start: object
    end: object

    def test(self, op: str, k: object) -> bool:
        if k is None:
            return op == "!="
        inside = self.start <= k < self.end  # type: ignore[operator]
        return {
            "=": inside,
            "!=": not inside,
            "<": k < self.start,  # type: ignore[operator]
            "<=": k < self.end,  # type: ignore[operator]
            ">": k >= self.end,  # type: ignore[operator]
            ">=": k >= self.start,  # type: ignore[operator]
        }[op]


def _norm(lit: Lit, path: str, ftype: str, now: datetime | None = None) -> object:
    """The literal as a comparable key for a field of type ftype (None for NULL); a date
    literal (TODAY, LAST_N_DAYS:n) becomes a Span."""
    if lit.kind == "null":
        return None
    if lit.kind == "relative":
        if ftype not in ("date", "datetime"):
            raise _type_error(path, "string" if ftype in STRINGY else ftype)
        name, n = lit.value  # type: ignore[misc]
        start, end = dates.date_range(name, n, now or datetime.now(UTC))
        if ftype == "date":
            return Span(start.date().isoformat(), end.date().isoformat())
        return Span(start, end)
    if ftype in STRINGY:
        if lit.kind != "str":
            raise _type_error(path, "string" if ftype not in ("id", "reference") else "id")
        value = str(lit.value)
        if ftype in ("id", "reference"):
            value = to18(value) or value
        return value.casefold()
    if ftype == "boolean":
        if lit.kind != "bool":
            raise _type_error(path, "boolean")
        return lit.value
    if ftype in NUMERIC:
        if lit.kind != "num":
            raise _type_error(path, "number")
        return lit.value
    if ftype == "date":
        if lit.kind != "date":
            raise _type_error(path, "date")
        return lit.value
    if ftype == "datetime":
        if lit.kind != "datetime":
            raise _type_error(path, "dateTime")
        return lit.value
    raise _type_error(path, ftype)


def value_key(value: object, ftype: str) -> object:
    """A stored field value as a comparable key (strings casefolded, datetimes parsed)."""
    if value is None:
        return None
    if ftype in STRINGY:
        return str(value).casefold()
    if ftype in NUMERIC:
        return float(value)  # type: ignore[arg-type]
    if ftype == "datetime":
        return parse_datetime(str(value))
    return value


_OPS: dict[str, Callable[[object, object], bool]] = {
    "<": lambda a, b: a < b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
}


def compile_where(
    node: object, resolve: Resolver, now: datetime | None = None
) -> Callable[[dict], bool]:
    """The WHERE tree as a predicate on records; `now` (the org's clock) anchors date literals."""
    if isinstance(node, BoolOp):
        parts = [compile_where(item, resolve, now) for item in node.items]
        if node.op == "AND":
            return lambda r: all(p(r) for p in parts)
        if node.op == "OR":
            return lambda r: any(p(r) for p in parts)
        inner = parts[0]
        return lambda r: not inner(r)
    assert isinstance(node, Cond)
    getter, ftype = resolve(node.path)
    path = node.path

    def key(r: dict) -> object:
        return value_key(getter(r), ftype)

    if node.op in ("IN", "NOTIN"):
        keys = [_norm(lit, path, ftype, now) for lit in node.value]  # type: ignore[union-attr]
        spans = [k for k in keys if isinstance(k, Span)]
        wanted = {k for k in keys if not isinstance(k, Span)}

        def member(r: dict) -> bool:
            k = key(r)
            return k in wanted or any(s.test("=", k) for s in spans)

        if node.op == "IN":
            return member
        return lambda r: not member(r)
    lit = node.value
    assert isinstance(lit, Lit)
    if node.op == "LIKE":
        if ftype not in STRINGY:
            raise ApiError(400, "INVALID_FIELD", f"invalid operator on id field: LIKE on '{path}'")
        rx = like_regex(lit.raw)
        return lambda r: (v := getter(r)) is not None and rx.fullmatch(str(v)) is not None
    target = _norm(lit, path, ftype, now)
    if isinstance(target, Span):
        op = node.op
        return lambda r: target.test(op, key(r))
    if node.op == "=":
        return lambda r: key(r) == target
    if node.op == "!=":
        return lambda r: key(r) != target
    if target is None:
        return lambda r: False
    cmp = _OPS[node.op]
    return lambda r: (k := key(r)) is not None and cmp(k, target)


def index_candidates(
    node: object, lookup: Callable[[str, list[Lit]], set[str] | None]
) -> set[str] | None:
    """Ids that can possibly match, from an = / IN on an indexed field; None = scan everything."""
    if isinstance(node, Cond) and node.op in ("=", "IN"):
        lits = node.value if isinstance(node.value, list) else [node.value]
        return lookup(node.path, lits)
    if isinstance(node, BoolOp) and node.op == "AND":
        for item in node.items:
            found = index_candidates(item, lookup)
            if found is not None:
                return found
    return None


def value_keys(values: list, ftype: str) -> list:
    """[value_key(v, ftype) for v in values] for values none of which is None, in C loops
    (a sort or a top-N pick over every Lead of the org keys each row)."""
    if ftype in STRINGY:
        return list(map(str.casefold, map(str, values)))
    if ftype in NUMERIC:
        return list(map(float, values))
    if ftype == "datetime":
        return list(map(parse_datetime, map(str, values)))
    return values


def sort_rows(
    rows: list[dict],
    order: list[tuple[str, bool, bool]],
    resolve: Resolver,
    top: int | None = None,
) -> None:
    """Stable multi-key sort, applied last key first; nulls placed per NULLS FIRST/LAST.

    `top` (OFFSET + LIMIT): only that many first rows are wanted; with one sort key they are
    picked without sorting the rest (`ORDER BY SystemModstamp DESC LIMIT 1` over every Lead).
    Each key sorts the positions of the rows that have a value (each row's field read once):
    the same stable order as sorting the rows themselves by value_key.
    """
    if top is not None and len(order) == 1 and top < len(rows):
        rows[:] = _first_rows(rows, order[0], resolve, top)
        return
    for path, desc, nulls_first in reversed(order):
        present, absent, keys = _split(rows, resolve(path))
        ranked = sorted(range(len(keys)), key=keys.__getitem__, reverse=desc)
        present = [present[i] for i in ranked]
        rows[:] = absent + present if nulls_first else present + absent


def field_getter(name: str) -> Callable[[dict], object]:
    """A record's field `name` (None when absent), marked with the name: a sort reads that
    field of every row in one C loop instead of a call per row."""

    def get(r: dict) -> object:
        return r.get(name)

    get.field_name = name  # type: ignore[attr-defined]
    return get


def _split(
    rows: list[dict], resolved: tuple[Callable[[dict], object], str]
) -> tuple[list[dict], list[dict], list]:
    """The rows with a value (in order), the rows without, and the former's sort keys."""
    getter, ftype = resolved
    name = getattr(getter, "field_name", None)
    values = list(map(getter, rows) if name is None else map(dict.get, rows, repeat(name)))
    if None not in values:
        return list(rows), [], value_keys(values, ftype)
    present = [r for r, v in zip(rows, values, strict=True) if v is not None]
    absent = [r for r, v in zip(rows, values, strict=True) if v is None]
    return present, absent, value_keys([v for v in values if v is not None], ftype)


def _first_rows(
    rows: list[dict], order: tuple[str, bool, bool], resolve: Resolver, top: int
) -> list[dict]:
    """The first `top` rows of sort_rows' order by one key: heapq's nsmallest/nlargest equal
    sorted(...)[:top] (reverse=True for nlargest), ties in their original order, as the sort.
    The heap holds positions keyed by their row's key: the same pick as on the rows."""
    path, desc, nulls_first = order
    present, absent, keys = _split(rows, resolve(path))
    pick = heapq.nlargest if desc else heapq.nsmallest
    if nulls_first:
        wanted = pick(max(top - len(absent), 0), range(len(keys)), key=keys.__getitem__)
        return absent[:top] + [present[i] for i in wanted]
    wanted = pick(top, range(len(keys)), key=keys.__getitem__)
    return [present[i] for i in wanted] + absent[: max(top - len(present), 0)]
