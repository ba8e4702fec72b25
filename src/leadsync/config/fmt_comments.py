"""Where `leadsync fmt` keeps each comment: comments and blank lines re-homed onto node paths.

A full-line comment belongs to the next key or list item; an end-of-line comment to the last
key/item that starts before it on its line; a comment indented deeper than the next key is a
trailer of the block above it (config/fmt.py's docstring states the whole canonical form).
The comments at the top of the file that a blank line separates from the first key are the
header. Pure: text, parsed data and tokens in, a `Comments` out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.tokens import AliasToken, AnchorToken, ScalarToken, TagToken

Path_ = tuple[Any, ...]
# line -> (column, comment text, full_line)
Spots = dict[int, tuple[int, str, bool]]


@dataclass
class _Node:
    path: Path_
    line: int
    col: int


@dataclass
class Comments:
    """Comments re-homed onto node paths. A line entry is comment text or "" for a blank line."""

    header: list[str] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)
    leading: dict[Path_, list[str]] = field(default_factory=dict)
    trailing: dict[Path_, list[str]] = field(default_factory=dict)
    eol: dict[Path_, tuple[int, str]] = field(default_factory=dict)

    def take_all(self, path: Path_) -> tuple[list[str], list[str]]:
        """Comments of the nodes below `path` (emitted on one line): their lines, their eols."""

        def below(store: dict[Path_, Any]) -> list[Path_]:
            found = [p for p in store if len(p) > len(path) and p[: len(path)] == path]
            return sorted(found, key=_path_sort)

        lines: list[str] = []
        for p in below(self.leading) + below(self.trailing):
            lines += self.leading.pop(p, []) + self.trailing.pop(p, [])
        eols = [self.eol.pop(p)[1] for p in below(self.eol)]
        return lines, eols


def _path_sort(path: Path_) -> tuple[Any, ...]:
    return tuple((len(path), str(part)) for part in path)


def _comment_spots(text: str, tokens: list[Any]) -> tuple[Spots, set[int]]:
    """line -> (column, comment text, full_line) and the set of blank lines, outside scalars."""
    masked = bytearray(len(text) + 1)
    for tok in tokens:
        if isinstance(tok, ScalarToken | TagToken | AnchorToken | AliasToken):
            masked[tok.start_mark.index : tok.end_mark.index] = b"\x01" * (
                tok.end_mark.index - tok.start_mark.index
            )
    spots: Spots = {}
    blanks: set[int] = set()
    offset = 0
    for number, raw in enumerate(text.split("\n")):
        line = raw.rstrip("\r")
        if not line.strip() and not masked[offset]:
            blanks.add(number)
        for col, char in enumerate(line):
            if char != "#" or masked[offset + col]:
                continue
            if col == 0 or line[col - 1] in " \t":
                full = not line[:col].strip()
                spots[number] = (col, line[col:].rstrip(), full)
                break
        offset += len(raw) + 1
    return spots, blanks


def _nodes(data: Any, text_lines: list[str]) -> Iterator[_Node]:
    """Every block key and list item with its position (not the insides of flow collections)."""

    def walk(node: Any, path: Path_) -> Iterator[_Node]:
        if isinstance(node, CommentedMap) and not node.fa.flow_style():
            for key in node:
                line, col = node.lc.key(key)
                yield _Node((*path, key), line, col)
                yield from walk(node[key], (*path, key))
        elif isinstance(node, CommentedSeq) and not node.fa.flow_style():
            for index, item in enumerate(node):
                line, col = node.lc.item(index)
                yield _Node((*path, index), line, _dash_column(text_lines, line, col))
                yield from walk(item, (*path, index))

    yield from walk(data, ())


def _dash_column(text_lines: list[str], line: int, col: int) -> int:
    """ruamel places a list item at its content; the `-` is what the eye aligns comments with."""
    if line >= len(text_lines):
        return col
    text = text_lines[line]
    i = min(col, len(text)) - 1
    while i >= 0 and text[i] == " ":
        i -= 1
    return i if i >= 0 and text[i] == "-" else col


def collect_comments(text: str, data: Any, tokens: list[Any]) -> Comments:
    text_lines = text.split("\n")
    spots, blanks = _comment_spots(text, tokens)
    nodes = sorted(_nodes(data, text_lines), key=lambda n: (n.line, n.col, len(n.path)))
    out = _eol_comments(spots, nodes)
    if not nodes:
        out.header = [t for _c, t in _gap(spots, blanks, 0, len(text_lines))]
        return out
    top = _gap(spots, blanks, 0, nodes[0].line)
    cut = max((i for i, (c, _t) in enumerate(top) if c < 0), default=-1)
    out.header += [t for _c, t in top[:cut]] if cut >= 0 else []
    out.leading[nodes[0].path] = [t for _c, t in top[cut + 1 :]]
    _home_full_lines(out, nodes, spots, blanks, len(text_lines))
    return out


def _eol_comments(spots: Spots, nodes: list[_Node]) -> Comments:
    """End-of-line comments: to the last node that starts before them (none: the header)."""
    out = Comments()
    for line, (col, comment, full) in spots.items():
        if full:
            continue
        owner = None
        for n in nodes:
            if (n.line, n.col) < (line, col):
                owner = n
            else:
                break
        if owner is None:
            out.header.append(comment)
        else:
            out.eol[owner.path] = (col, comment)
    return out


def _gap(spots: Spots, blanks: set[int], first: int, last: int) -> list[tuple[int, str]]:
    """Full-line comments (column, text) and blanks (-1, "") on lines first..last-1."""
    found = []
    for line in range(first, last):
        if line in spots and spots[line][2]:
            found.append((spots[line][0], spots[line][1]))
        elif line in blanks:
            found.append((-1, ""))
    return found


def _home_full_lines(
    out: Comments, nodes: list[_Node], spots: Spots, blanks: set[int], n_lines: int
) -> None:
    """The lines between two nodes: those indented deeper than the next node trail the block
    above (the innermost enclosing node not deeper than the comment); the rest lead the next
    node, or, after the last node, are the footer."""
    cols = {n.path: n.col for n in nodes}
    for prev, nxt in zip(nodes, [*nodes[1:], None], strict=True):
        end, limit = (n_lines, 0) if nxt is None else (nxt.line, nxt.col)
        lines = _gap(spots, blanks, prev.line + 1, end)
        i = 0
        while i < len(lines) and lines[i][0] > limit:
            owner = prev.path
            while len(owner) > 1 and cols.get(owner, 0) > lines[i][0]:
                owner = owner[:-1]
            out.trailing.setdefault(owner, []).append(lines[i][1])
            i += 1
        rest = [t for _c, t in lines[i:]]
        if nxt is None:
            out.footer = rest
        else:
            out.leading.setdefault(nxt.path, []).extend(rest)


def tidy(lines: list[str], *, strip_leading: bool) -> list[str]:
    """Collapse blank runs to one blank; optionally drop blanks before the first comment."""
    tidied: list[str] = []
    for line in lines:
        if line == "" and (not tidied or tidied[-1] == ""):
            if not tidied and not strip_leading:
                tidied.append("")
            continue
        tidied.append(line)
    return tidied
