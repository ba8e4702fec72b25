"""Read a YAML file into plain data while keeping where every key and value came from.

PyYAML's `compose` gives nodes with start marks; we walk them ourselves instead of calling
`safe_load`, because (a) duplicate keys must be an error, not "last one wins"; (b) every value's
file:line:column must survive so later stages can point at the exact line; (c) `${VAR}`
interpolation happens per scalar and must remember which values came from the environment.

Nothing here raises on bad input: every problem becomes a Diagnostic with a line >= 1.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from leadsync.config import codes
from leadsync.config.diagnostics import Diagnostic
from leadsync.config.interpolate import interpolate, mentions_reference
from leadsync.config.model import Pos, nearest_pos

MAX_BYTES = 2_000_000  # a config is a page of YAML; anything this big is a mistake
MAX_DEPTH = 64
MAX_NODES = 100_000  # counted after alias expansion (guards against "billion laughs")
ROOT = "$"  # YAML path shown for findings about the whole document

_STR_TAG = "tag:yaml.org,2002:str"
# libyaml when present: same nodes and marks, about ten times faster than pure Python.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def child_path(parent: str, key: str) -> str:
    """`accounts.uk` style for identifier keys, `address_books["Odd key"]` for anything else."""
    part = key if _SIMPLE_KEY.match(key) else None
    if part is None:
        return f"{parent}[{_quote(key)}]"
    return f"{parent}.{part}" if parent else part


def _last_key(path: str) -> str:
    return path.rsplit(".", 1)[-1].split("[", 1)[0]


def index_path(parent: str, index: int) -> str:
    return f"{parent}[{index}]"


def _quote(key: str) -> str:
    import json

    return json.dumps(key, ensure_ascii=False)


@dataclass(slots=True)
class Tree:
    """Plain data (dict/list/scalars) plus where each path is in the file."""

    file: str
    text: str = ""
    sha256: str = ""
    data: Any = None
    positions: dict[str, Pos] = field(default_factory=dict)  # path -> value start
    key_positions: dict[str, Pos] = field(default_factory=dict)  # path -> its key's start
    from_env: dict[str, list[str]] = field(default_factory=dict)  # path -> variables used
    # path -> variables that are set but empty, for values that came out empty because of them
    empty_env: dict[str, list[str]] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    ok: bool = False  # the YAML parsed into a document (data may still be invalid)

    def pos(self, path: str) -> Pos:
        """Position of `path`, else of its nearest ancestor, else 1:1 (never line 0)."""
        found = nearest_pos(self.positions, path)
        return self.positions.get("", Pos(self.file, 1, 1)) if found is None else found

    def key_pos(self, path: str) -> Pos:
        """Where the key of `path` is written (for unknown/missing keys), else its value."""
        return self.key_positions.get(path) or self.pos(path)

    def show(self, value: Any, path: str) -> str:
        """A value fit for a message: never a secret, never anything read from the environment
        (a variable's value may be a secret wherever it lands), never a page of text."""
        if isinstance(value, dict | list):  # its items may hold secrets or env values
            return "a mapping" if isinstance(value, dict) else "a list"
        names = self.from_env.get(path)
        if names:
            return f"(the value of ${{{names[0]}}})"
        if _last_key(path) in codes.SECRET_KEYS or path.endswith("dotdigital.username"):
            return "(sensitive)"
        if isinstance(value, str) and has_url_credentials(value):
            return "(a URL with credentials, not shown)"
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."

    def add(self, code: str, severity: str, message: str, path: str, pos: Pos) -> None:
        self.diagnostics.append(
            Diagnostic(
                code=code,
                severity=severity,  # type: ignore[arg-type]
                message=message,
                path=path or ROOT,
                file=pos.file,
                line=max(pos.line, 1),
                column=max(pos.column, 1),
            )
        )


_URL_CREDENTIALS = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]*@")


def has_url_credentials(value: str) -> bool:
    """`https://user:password@host`: a secret in a URL, to be refused and never shown."""
    return bool(_URL_CREDENTIALS.match(value))


def read_file(path: str) -> tuple[bytes | None, Diagnostic | None]:
    """The file's bytes, or one LS001 diagnostic saying why it cannot be read."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        return None, Diagnostic(
            codes.FILE_UNREADABLE,
            "error",
            f"cannot read the config file: {reason}",
            ROOT,
            path,
            1,
            1,
        )
    return data, None


def parse(raw: bytes, file: str, env: Mapping[str, str]) -> Tree:
    """Decode, compose and walk one YAML document; problems land in `tree.diagnostics`."""
    tree = Tree(file=file, sha256=hashlib.sha256(raw).hexdigest())
    text = _decode(raw, tree)
    if text is None:
        return tree
    tree.text = text
    root = _compose(text, tree)
    if root is None:
        return tree
    unsupported = _unsupported_features(text, file)
    if unsupported:
        tree.diagnostics.extend(unsupported)
        return tree
    walker = _Walker(tree, env, text.splitlines())
    tree.data = walker.walk(root, "", 0)
    tree.ok = True
    return tree


def _decode(raw: bytes, tree: Tree) -> str | None:
    """The file as text, or None (and the diagnostic) when it is too large or not UTF-8."""
    file = tree.file
    if len(raw) > MAX_BYTES:
        tree.add(
            codes.YAML_UNSUPPORTED,
            "error",
            f"the file is larger than {MAX_BYTES} bytes; this is not a leadsync config",
            "",
            Pos(file, 1, 1),
        )
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        tree.add(
            codes.BAD_ENCODING,
            "error",
            f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            "",
            Pos(file, line, column),
        )
        return None


def _compose(text: str, tree: Tree) -> yaml.Node | None:
    """The YAML node tree, or None (and the diagnostic) when it is not one YAML document."""
    file = tree.file
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.reader.ReaderError as exc:
        # libyaml reports a byte offset, pure PyYAML a character index: find the character itself.
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        found = text.find(chr(code))
        line, column = _line_col(text, found if found >= 0 else 0)
        tree.add(
            codes.BAD_ENCODING,
            "error",
            f"character U+{code:04X} is not allowed in YAML",
            "",
            Pos(file, line, column),
        )
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Pos(file, mark.line + 1, mark.column + 1) if mark else Pos(file, 1, 1)
        tree.add(codes.YAML_SYNTAX, "error", _syntax_message(exc, text), "", pos)
        return None
    except RecursionError:
        tree.add(
            codes.YAML_UNSUPPORTED, "error", "the YAML is nested too deeply", "", Pos(file, 1, 1)
        )
        return None
    except yaml.YAMLError as exc:  # any other parser complaint without a mark
        tree.add(codes.YAML_SYNTAX, "error", f"YAML error: {exc}", "", Pos(file, 1, 1))
        return None
    if root is None:
        tree.add(codes.EMPTY_FILE, "error", "the file is empty", "", Pos(file, 1, 1))
    return root


def _syntax_message(exc: yaml.MarkedYAMLError, text: str) -> str:
    mark = exc.problem_mark or exc.context_mark
    message = f"YAML syntax error: {exc.problem or 'invalid YAML'}"
    if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    elif exc.context:
        message += f" ({exc.context})"
    lines = text.splitlines()
    if mark and mark.line < len(lines) and "${" in lines[mark.line]:
        message += '; inside { } or [ ], quote references: "${VAR}"'
    return message


_FEATURE_MESSAGES = {
    "merge": "merge keys (<<) are not supported; write the keys out",
    "alias": "anchors and aliases (&name, *name) are not supported; write the values out",
    "tag": "tags (!name, !!type) are not supported; write the value as plain or quoted text",
}


def _unsupported_features(text: str, file: str) -> list[Diagnostic]:
    """Merge keys, anchors/aliases and tags: the first of each kind, as LS005.

    `leadsync fmt` cannot keep them (it rewrites the file in one canonical form), so validate
    refuses them too: both commands accept exactly the same YAML. A config is a page of plain
    keys and values; repeating a block is clearer in review than a reference to it.
    """
    if not any(mark in text for mark in ("&", "*", "!", "<<")):
        return []  # none of the tokens can occur: skip the second scan
    first: dict[str, yaml.Token] = {}
    after_key = False
    for token in yaml.scan(text, Loader=_LOADER):
        if isinstance(token, yaml.ScalarToken) and after_key:
            if token.plain and token.value == "<<":
                first.setdefault("merge", token)
        elif isinstance(token, yaml.AnchorToken | yaml.AliasToken):
            first.setdefault("alias", token)
        elif isinstance(token, yaml.TagToken):
            first.setdefault("tag", token)
        after_key = isinstance(token, yaml.KeyToken)
    found = sorted(first.items(), key=lambda kv: (kv[1].start_mark.index, kv[0]))
    return [
        Diagnostic(
            codes.YAML_UNSUPPORTED,
            "error",
            _FEATURE_MESSAGES[kind],
            ROOT,
            file,
            token.start_mark.line + 1,
            token.start_mark.column + 1,
        )
        for kind, token in found
    ]


def _line_col(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


class _Walker:
    """Turns composed nodes into plain data; one instance per document."""

    def __init__(self, tree: Tree, env: Mapping[str, str], lines: list[str]) -> None:
        self.tree = tree
        self.env = env
        self.lines = lines
        self.nodes = 0
        self.stack: set[int] = set()
        self.constructor = SafeConstructor()
        self.too_big = False

    def pos(self, node: Node) -> Pos:
        return Pos(self.tree.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def walk(self, node: Node, path: str, depth: int) -> Any:
        self.tree.positions.setdefault(path, self.pos(node))
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            if not self.too_big:
                self.too_big = True
                what = "nested too deeply" if depth > MAX_DEPTH else "too large (aliases expand)"
                self.tree.add(
                    codes.YAML_UNSUPPORTED,
                    "error",
                    f"the document is {what}",
                    path,
                    self.pos(node),
                )
            return None
        if id(node) in self.stack:
            self.tree.add(
                codes.YAML_UNSUPPORTED,
                "error",
                "recursive alias: a node contains itself",
                path,
                self.pos(node),
            )
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        self.stack.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [
                    self.walk(item, index_path(path, i), depth + 1)
                    for i, item in enumerate(node.value)
                ]
            if isinstance(node, MappingNode):
                return self.mapping(node, path, depth)
        finally:
            self.stack.discard(id(node))
        return None  # pragma: no cover - compose yields only the three node kinds

    def mapping(self, node: MappingNode, path: str, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.tree.add(
                    codes.YAML_UNSUPPORTED,
                    "error",
                    "complex (non-scalar) mapping keys are not supported",
                    path,
                    self.pos(key_node),
                )
                continue
            key = key_node.value
            key_path = child_path(path, key)
            if key in out or key in first_line:
                self.tree.add(
                    codes.DUPLICATE_KEY,
                    "error",
                    f"duplicate key {key!r} (first at line {first_line[key]})",
                    key_path,
                    self.pos(key_node),
                )
                continue
            first_line[key] = key_node.start_mark.line + 1
            self.tree.key_positions[key_path] = self.pos(key_node)
            value = self.walk(value_node, key_path, depth + 1)
            if key in codes.SECRET_KEYS:
                self.check_literal_secret(value_node, key_path, value)
            out[key] = value
        return out

    def scalar(self, node: ScalarNode, path: str) -> Any:
        if node.tag == _STR_TAG:
            raw = node.value
            if not mentions_reference(raw):
                return raw
            return self.substitute(node, path, raw)
        try:
            return self.constructor.construct_object(node)
        except ConstructorError as exc:
            self.tree.add(
                codes.YAML_UNSUPPORTED,
                "error",
                f"unsupported YAML tag {node.tag!r}: {exc.problem or 'cannot be read'}",
                path,
                self.pos(node),
            )
            return None
        except Exception:  # e.g. a timestamp-looking value with month 13: keep it as text
            return node.value

    def substitute(self, node: ScalarNode, path: str, raw: str) -> str:
        result = interpolate(raw, self.env)
        if result.used:
            self.tree.from_env[path] = result.used
        if result.empty and result.value == "":
            self.tree.empty_env[path] = result.empty
        for name, _offset in result.unset:
            self.tree.add(
                codes.ENV_UNSET,
                "error",
                f"environment variable {name} is not set and has no default "
                f"(export it, or write ${{{name}:-default}})",
                path,
                self.ref_pos(node, "${" + name),
            )
        for _offset in result.malformed:
            self.tree.add(
                codes.ENV_MALFORMED,
                "error",
                "malformed ${...} reference: write ${NAME} or ${NAME:-default} "
                "(and $${ for a literal ${)",
                path,
                self.ref_pos(node, "${"),
            )
        return result.value

    def ref_pos(self, node: ScalarNode, needle: str) -> Pos:
        """The column of the reference itself when the scalar sits on one line, else its start."""
        line = node.start_mark.line
        if 0 <= line < len(self.lines):
            found = self.lines[line].find(needle, node.start_mark.column)
            if found >= 0:
                return Pos(self.tree.file, line + 1, found + 1)
        return self.pos(node)

    def check_literal_secret(self, node: Node, path: str, value: Any) -> None:
        if not isinstance(node, ScalarNode) or node.tag != _STR_TAG:
            return
        raw = node.value
        if mentions_reference(raw):
            literal = interpolate(raw, {}).literal_text
        else:
            literal = bool(raw.strip())
        if literal:
            self.tree.add(
                codes.LITERAL_SECRET,
                "warning",
                "secret written literally in the file; read it from the environment with "
                "${VAR} (it is still treated as a secret)",
                path,
                self.pos(node),
            )
