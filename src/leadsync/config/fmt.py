"""`leadsync fmt`: rewrite leadsync.yaml in one canonical form, comments kept.

Why: config is reviewed in pull requests. When every file has the same shape, a diff shows what
changed in meaning, not who reordered keys or re-indented a block; `fmt --check` lets CI insist.

The canonical form (``format_text`` is pure text in -> text out; ``run`` is the I/O shell):

- Keys in the schema's order at each level (schema/leadsync.schema.json ``properties``): version,
  state, salesforce, defaults, sync, accounts; within an account dotdigital, clear_address_books,
  create_missing_datafields, lead_mapping, contact_mapping, address_books; address books with
  name first; the salesforce auth block in the order of the auth form it matches. Keys the
  schema does not know keep their relative order after the known ones (fmt is not validate: it
  never drops a key).
- Block style, 2-space indentation, sequences indented under their key (``key:`` then ``  - x``).
  Mapping rows (lead_mapping, contact_mapping) are one-line flow maps ``{salesforce, datafield, direction}``, padded so the
  columns of a mapping line up like a table. A collection the schema does not know that was
  written in flow style and holds only scalars stays flow, and so does a list the schema says
  holds only text (``member_statuses: [Sent, Responded]``); empty collections are ``{}`` / ``[]``.
- Scalars are quoted only where needed, and then with double quotes. "Needed" means under YAML
  1.2 (ruamel) *or* YAML 1.1 (PyYAML, which the loader uses): ``"61.0"``, ``"yes"`` and ``"0777"``
  stay quoted strings, ``"New"`` becomes ``New``. No line folding.
- Comments stay with the key (or list item) they describe: a full-line comment belongs to the
  next key or item; an end-of-line comment to the last key/item that starts before it on its
  line. A comment indented deeper than the next key is a trailer of the block above it (e.g. a
  commented-out last option) and is kept after that block. Full-line comments are re-indented to
  their key; end-of-line comments keep their column when the line still ends before it (so
  aligned comments stay aligned), else they follow two spaces after the value. The comments at
  the top of the file that a blank line separates from the first key stay at the top.
- Blank lines: runs collapse to one; one blank line before every top-level key except the
  first; none before the first entry of a block. The file ends with exactly one newline.
- ``${VAR}`` strings are text like any other: fmt never interpolates, never reads the
  environment, so it cannot print a secret.
- Idempotent: ``format_text(format_text(x)) == format_text(x)`` (tested as a property).

Not supported (a clear error, file untouched): merge keys (<<), anchors/aliases and tags,
several documents. `validate` refuses the same constructs, so both accept the same YAML.
"""

from __future__ import annotations

import difflib
import io
import itertools
import os
import stat
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.emitter import Emitter
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag
from ruamel.yaml.tokens import AliasToken, AnchorToken, KeyToken, ScalarToken, TagToken

from leadsync.config.fmt_comments import Comments, Path_, collect_comments, tidy
from leadsync.errors import LeadsyncError
from leadsync.views import Outcome

# Sequences whose rows are written as aligned one-line flow maps ($defs name of the item schema).
FLOW_ROW_DEFS = frozenset({"mapping_row"})

_PYYAML_RESOLVER = pyyaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER_12 = VersionedResolver(version=(1, 2))


class FmtError(LeadsyncError):
    """The file cannot be formatted (broken YAML, unsupported construct); message names file:line."""


# --------------------------------------------------------------------------- scalar rendering


class _CanonicalEmitter(Emitter):
    """ruamel's emitter, but quotes are double quotes and also guard YAML 1.1 readers (PyYAML)."""

    def choose_scalar_style(self) -> Any:
        style = super().choose_scalar_style()
        tag = self.event.tag
        is_str = tag is not None and str(getattr(tag, "value", tag)) == _STR_TAG
        if not is_str:
            return style
        if style == "'" or (style is None and self.event.value == ""):
            return '"'
        if style == "" and self._pyyaml_would_retype(self.event.value):
            return '"'
        return style

    @staticmethod
    def _pyyaml_would_retype(value: str) -> bool:
        """Would PyYAML (1.1, the loader) or a YAML 1.2 reader (editors) read it as non-string?"""
        v11 = _PYYAML_RESOLVER.resolve(pyyaml.ScalarNode, value, (True, False))
        v12 = _RESOLVER_12.resolve(ScalarNode, value, (True, False))
        return v11 != _STR_TAG or str(getattr(v12, "value", v12)) != _STR_TAG


def _yaml() -> YAML:
    y = YAML()
    y.Emitter = _CanonicalEmitter
    y.width = 1 << 16  # never fold long lines
    y.indent(mapping=2, sequence=4, offset=2)
    y.version = (1, 1)  # values read back by PyYAML (1.1): 0777 stays octal, not 0o777
    return y


_DUMPER = _yaml()


_CACHEABLE = (str, int, bool, type(None))
_CACHE: dict[tuple[Any, ...], str] = {}


def _cached(kind: str, key: Any, value: Any, make: Any) -> str:
    """ruamel's pure-Python dump is slow; plain scalars (not ruamel's styled ones) are memoised."""
    if type(key) not in _CACHEABLE or type(value) not in _CACHEABLE:
        return make()
    slot = (kind, type(key), key, type(value), value)
    if slot not in _CACHE:
        if len(_CACHE) > 4096:
            _CACHE.clear()
        _CACHE[slot] = make()
    return _CACHE[slot]


def _dump(value: Any) -> str:
    buf = io.StringIO()
    _DUMPER.dump(value, buf)
    text = buf.getvalue()
    if text.startswith("%YAML"):  # drop the version directive and the document marker
        text = text.split("\n", 1)[1]
        text = text[4:] if text.startswith(("---\n", "--- ")) else text
    return text


def _scalar_copy(value: Any) -> Any:
    """Empty collections lose their comments/positions before being dumped as `{}` / `[]`."""
    if isinstance(value, dict):
        return CommentedMap()
    if isinstance(value, list):
        return CommentedSeq()
    return value


def _entry_lines(key: Any, value: Any) -> list[str]:
    """`key: value` in block context (a block scalar gives several lines, indented by 2)."""

    def make() -> str:
        m = CommentedMap()
        m[key] = _scalar_copy(value)
        return _dump(m)

    return _cached("entry", key, value, make).rstrip("\n").split("\n")


def _key_text(key: Any) -> str:
    line = _entry_lines(key, None)[0]
    return line[:-1] if line.endswith(":") else line.rsplit(":", 1)[0]


def _item_lines(value: Any) -> list[str]:
    """What follows `- ` for a scalar item (block scalars continue on more lines, indented 2)."""

    lines = _entry_lines("k", value)  # a block seq item takes a value like a mapping does
    return [lines[0][2:].lstrip(" "), *lines[1:]]


def _flow_entry(key: Any, value: Any) -> str:
    def make() -> str:
        m = CommentedMap()
        m[key] = value
        m.fa.set_flow_style()
        return _dump(m)

    return _cached("flow-entry", key, value, make).strip()[1:-1]


def _flow_item(value: Any) -> str:
    def make() -> str:
        s = CommentedSeq([value])
        s.fa.set_flow_style()
        return _dump(s)

    return _cached("flow-item", None, value, make).strip()[1:-1]


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _flow_text(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(_flow_entry(k, v) for k, v in value.items()) + "}"
    return "[" + ", ".join(_flow_item(v) for v in value) + "]"


# --------------------------------------------------------------------------- schema order


@dataclass(frozen=True)
class _Shape:
    """What the schema says about one node: its own definition (resolved) and the $defs name."""

    schema: dict[str, Any] | None
    name: str | None = None


def _scalar_list(schema: dict[str, Any] | None) -> bool:
    """A list the schema says holds only text (or numbers): written on one line."""
    items = (schema or {}).get("items")
    return (
        (schema or {}).get("type") == "array"
        and isinstance(items, dict)
        and items.get("type") in ("string", "number", "integer")
    )


def _config_schema() -> dict[str, Any]:
    from leadsync.config.schema import config_schema

    return config_schema()


class _Schema:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def resolve(self, node: Any) -> _Shape:
        name = None
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 20:
            ref = node["$ref"]
            name = ref.rsplit("/", 1)[-1]
            node = self.root.get("$defs", {}).get(name)
            seen += 1
        return _Shape(node if isinstance(node, dict) else None, name)

    def order(self, shape: _Shape, keys: list[Any]) -> list[Any]:
        props = self._properties(shape.schema, keys)
        known = [k for k in props if k in keys]
        return known + [k for k in keys if k not in props]

    def _properties(self, schema: dict[str, Any] | None, keys: list[Any]) -> list[Any]:
        if not schema:
            return []
        props = list(schema.get("properties", {}))
        if props or "oneOf" not in schema:
            return props
        branches = [self.resolve(b).schema or {} for b in schema["oneOf"]]
        present = set(keys)
        for branch in branches:  # the auth form these keys fit exactly
            names = set(branch.get("properties", {}))
            if set(branch.get("required", [])) <= present and present <= names:
                return list(branch.get("properties", {}))
        for branch in branches:  # else the first form whose required keys are there
            if set(branch.get("required", [])) <= present:
                return list(branch.get("properties", {}))
        merged: list[Any] = []
        for branch in branches:
            merged += [k for k in branch.get("properties", {}) if k not in merged]
        return merged

    def child(self, shape: _Shape, key: Any) -> _Shape:
        schema = shape.schema or {}
        props = dict(schema.get("properties", {}))
        for branch in schema.get("oneOf", []):
            for k, v in (self.resolve(branch).schema or {}).get("properties", {}).items():
                props.setdefault(k, v)
        if key in props:
            return self.resolve(props[key])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return self.resolve(extra)
        return _Shape(None)

    def items(self, shape: _Shape) -> _Shape:
        schema = shape.schema or {}
        if isinstance(schema.get("items"), dict):
            return self.resolve(schema["items"])
        return _Shape(None)


class _PyYAMLResolver(VersionedResolver):
    """Plain scalars get the type PyYAML (the config loader) gives them, so fmt keeps meaning.

    ruamel's YAML 1.1 reads `y`/`n` as booleans and `1e3` as a float; PyYAML reads strings.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            return Tag(suffix=_PYYAML_RESOLVER.resolve(pyyaml.ScalarNode, value, implicit))
        return super().resolve(kind, value, implicit)


def _loader() -> YAML:
    """YAML 1.1 like the config loader (PyYAML): `yes` is a boolean there, so it is one here."""
    y = YAML()
    y.Resolver = _PyYAMLResolver
    y.version = (1, 1)
    return y


def _scan_tokens(text: str) -> list[Any]:
    return list(YAML().scan(text))


# --------------------------------------------------------------------------- emitting


class _Writer:
    def __init__(self, comments: Comments, schema: _Schema) -> None:
        self.c = comments
        self.schema = schema
        self.out: list[str] = []

    def comment_lines(self, lines: list[str], indent: int) -> None:
        for line in lines:
            self.out.append(" " * indent + line if line else "")

    def with_eol(self, line: str, path: Path_, extra: list[str] | None = None) -> str:
        texts = list(extra or [])
        col = None
        if path in self.c.eol:
            col, text = self.c.eol.pop(path)
            texts.insert(0, text)
        if not texts:
            return line
        text = " ".join(texts)
        if col is not None and len(line) < col:
            return line.ljust(col) + text
        return line + "  " + text

    def leading(self, path: Path_, *, first: bool, top_level: bool) -> list[str]:
        lines = tidy(self.c.leading.pop(path, []), strip_leading=True)
        if top_level and not first:
            return ["", *lines]
        if first:
            return lines
        return tidy(lines, strip_leading=False) if lines else lines

    def block_value(self, value: Any, flow: bool) -> bool:
        return isinstance(value, (dict, list)) and bool(value) and not flow

    def wants_flow(self, value: Any, shape: _Shape, parent: _Shape) -> bool:
        if not isinstance(value, (dict, list)) or not value:
            return False
        scalars = all(_is_scalar(v) for v in (value.values() if isinstance(value, dict) else value))
        if not scalars:
            return False
        if isinstance(value, dict) and parent.name is None and shape.name in FLOW_ROW_DEFS:
            return True
        if isinstance(value, list) and _scalar_list(shape.schema):
            return True  # e.g. member_statuses: [Sent, Responded]
        if shape.schema is None:
            fa = getattr(value, "fa", None)
            return bool(fa is not None and fa.flow_style())
        return False

    def mapping(
        self, node: dict[Any, Any], path: Path_, indent: int, shape: _Shape, dash: str | None = None
    ) -> None:
        keys = self.schema.order(shape, list(node))
        for position, key in enumerate(keys):
            p = (*path, key)
            value = node[key]
            child = self.schema.child(shape, key)
            flow = self.wants_flow(value, child, shape)
            if position == 0 and dash is not None:
                prefix = dash  # the caller wrote this key's comments above the dash
            else:
                lead = self.leading(p, first=position == 0, top_level=len(p) == 1)
                self.comment_lines(lead, indent)
                prefix = " " * indent
            if self.block_value(value, flow):
                line = prefix + _key_text(key) + ":"
                if position == 0 and dash is not None:
                    line = self.with_eol(line, path)
                self.out.append(self.with_eol(line, p))
                if isinstance(value, dict):
                    self.mapping(value, p, indent + 2, child)
                else:
                    self.sequence(value, p, indent + 2, child)
            else:
                extra: list[str] = []
                if flow:
                    inner, extra = self.c.take_all(p)
                    self.comment_lines(tidy(inner, strip_leading=True), indent)
                    lines = [_key_text(key) + ": " + _flow_text(value)]
                else:
                    lines = _entry_lines(key, value)
                first = prefix + lines[0]
                if position == 0 and dash is not None:
                    first = self.with_eol(first, path)
                self.out.append(self.with_eol(first, p, extra))
                self.out.extend(" " * indent + line if line else "" for line in lines[1:])
            self.comment_lines(tidy(self.c.trailing.pop(p, []), strip_leading=True), indent)

    def sequence(self, node: list[Any], path: Path_, indent: int, shape: _Shape) -> None:
        item_shape = self.schema.items(shape)
        rows = self.table(node, item_shape)
        for index, item in enumerate(node):
            p = (*path, index)
            flow = index in rows or self.wants_flow(item, item_shape, _Shape(None, "item"))
            lead = self.c.leading.pop(p, [])
            block_map = isinstance(item, dict) and self.block_value(item, flow)
            if block_map:
                first_key = self.schema.order(item_shape, list(item))[0]
                lead = lead + self.c.leading.pop((*p, first_key), [])
            self.comment_lines(tidy(lead, strip_leading=index == 0), indent)
            dash = " " * indent + "- "
            if block_map:
                self.mapping(item, p, indent + 2, item_shape, dash=dash)
            elif isinstance(item, list) and self.block_value(item, flow):
                self.out.append(self.with_eol(" " * indent + "-", p))
                self.sequence(item, p, indent + 2, item_shape)
            else:
                extra: list[str] = []
                if flow:
                    inner, extra = self.c.take_all(p)
                    self.comment_lines(tidy(inner, strip_leading=True), indent)
                    lines = [rows[index] if index in rows else _flow_text(item)]
                else:
                    lines = _item_lines(item)
                self.out.append(self.with_eol(dash + lines[0], p, extra))
                self.out.extend(" " * indent + line if line else "" for line in lines[1:])
            self.comment_lines(tidy(self.c.trailing.pop(p, []), strip_leading=True), indent)

    def table(self, node: list[Any], item_shape: _Shape) -> dict[int, str]:
        """Flow rows of a mapping-row list, padded per column among rows with the same keys."""
        if item_shape.name not in FLOW_ROW_DEFS:
            return {}
        cells: dict[int, tuple[tuple[Any, ...], list[str]]] = {}
        for index, item in enumerate(node):
            if isinstance(item, dict) and item and all(_is_scalar(v) for v in item.values()):
                keys = tuple(self.schema.order(item_shape, list(item)))
                cells[index] = (keys, [_flow_entry(k, item[k]) + "," for k in keys])
        widths: dict[tuple[tuple[Any, ...], int], int] = {}
        for keys, entries in cells.values():
            for column, entry in enumerate(entries[:-1]):
                slot = (keys, column)
                widths[slot] = max(widths.get(slot, 0), len(entry))
        rows = {}
        for index, (keys, entries) in cells.items():
            padded = [e.ljust(widths[(keys, c)]) for c, e in enumerate(entries[:-1])]
            rows[index] = "{" + " ".join([*padded, entries[-1][:-1]]) + "}"
        return rows


# --------------------------------------------------------------------------- public API


def format_text(text: str, filename: str = "leadsync.yaml") -> str:
    """Return `text` in canonical form. Raises FmtError naming filename:line on broken YAML."""
    try:
        tokens = _scan_tokens(text)
        merge = _first_merge_key(tokens)
        if merge is not None:
            raise FmtError(
                f"{filename}:{merge.start_mark.line + 1}:{merge.start_mark.column + 1}: "
                "fmt does not support merge keys (<<); write the keys out"
            )
        for tok in tokens:
            if isinstance(tok, AnchorToken | AliasToken | TagToken):
                what = "tags (!name)" if isinstance(tok, TagToken) else "anchors/aliases (&, *)"
                raise FmtError(
                    f"{filename}:{tok.start_mark.line + 1}:{tok.start_mark.column + 1}: "
                    f"fmt does not support {what}; write the values out"
                )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ruamel's YAML 1.1 float advice is not our concern
            data = _loader().load(text)
    except DuplicateKeyError as exc:
        raise FmtError(_where(filename, exc) + "duplicate key in a mapping") from None
    except MarkedYAMLError as exc:
        raise FmtError(_where(filename, exc) + f"invalid YAML: {exc.problem}") from None
    except YAMLError as exc:
        raise FmtError(f"{filename}: invalid YAML: {exc}") from None
    complex_key = _first_complex_key(data)
    if complex_key is not None:
        line, col = complex_key
        raise FmtError(
            f"{filename}:{line + 1}:{col + 1}: "
            "fmt does not support complex (non-scalar) mapping keys; write the keys out"
        )
    comments = collect_comments(text, data, tokens)
    header = tidy(comments.header, strip_leading=True)
    footer = tidy(comments.footer, strip_leading=True)
    while header and header[-1] == "":
        header.pop()
    while footer and footer[-1] == "":
        footer.pop()
    if data is None:
        return "\n".join(header + footer) + "\n" if header or footer else ""
    if not isinstance(data, dict):
        raise FmtError(f"{filename}:1: the top level must be a mapping (key: value)")
    schema = _Schema(_config_schema())
    writer = _Writer(comments, schema)
    if header:
        writer.out += [*header, ""]
    if data:
        writer.mapping(data, (), 0, schema.resolve(schema.root))
    else:
        writer.out.append("{}")
    if footer:
        writer.out += ["", *footer] if comments.footer and comments.footer[0] == "" else footer
    return "\n".join(line.rstrip(" ") for line in writer.out) + "\n"


def _first_complex_key(data: Any) -> tuple[int, int] | None:
    """(line, column) of a `? [a, b]: value` style key, which validate refuses too (LS005)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, tuple | list | dict):
                return data.lc.key(key) if isinstance(data, CommentedMap) else (0, 0)
            found = _first_complex_key(value)
            if found is not None:
                return found
    elif isinstance(data, list):
        for item in data:
            found = _first_complex_key(item)
            if found is not None:
                return found
    return None


def _first_merge_key(tokens: list[Any]) -> ScalarToken | None:
    """`<<:` is a merge key (a YAML 1.1 extension), not a key named "<<"; validate refuses it
    with the same words, so both commands accept the same YAML."""
    for before, tok in itertools.pairwise(tokens):
        is_key = isinstance(before, KeyToken) and isinstance(tok, ScalarToken)
        if is_key and tok.plain and tok.value == "<<":
            return tok
    return None


def _where(filename: str, exc: MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return f"{filename}: "
    return f"{filename}:{mark.line + 1}:{mark.column + 1}: "


def unified_diff(old: str, new: str, filename: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=filename,
            tofile=f"{filename} (formatted)",
        )
    )


def write_atomically(path: Path, text: str) -> None:
    """Temp file beside `path`, same mode, fsync, os.replace: readers see old or new, never half."""
    mode = stat.S_IMODE(path.stat().st_mode)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(path: str, *, check: bool = False, diff: bool = False) -> Outcome:
    """`leadsync fmt`: rewrite PATH canonically (or only report with check). Never raises for bad input."""
    file = Path(path)
    try:
        old = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Outcome(stderr=f"error: {path}: no such file\n", exit_code=1)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "cannot read"
        return Outcome(stderr=f"error: {path}: {reason}\n", exit_code=1)
    try:
        new = format_text(old, path)
    except FmtError as exc:
        return Outcome(stderr=f"error: {exc}\n", exit_code=1)
    if new == old:
        return Outcome()
    shown = unified_diff(old, new, path) if diff else ""
    if check:
        return Outcome(stdout=shown + f"{path}\n", exit_code=1)
    try:
        write_atomically(file, new)
    except OSError as exc:
        return Outcome(stderr=f"error: {path}: cannot write: {exc.strerror}\n", exit_code=1)
    return Outcome(stdout=shown + f"{path}\n")
