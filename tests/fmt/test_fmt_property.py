"""Idempotence and meaning preservation over any order of keys (hypothesis permutations)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.config.fmt import format_text

EXAMPLE = (Path(__file__).resolve().parents[2] / "leadsync.yaml.example").read_text(
    encoding="utf-8"
)


def blocks(lines: list[str], indent: int) -> list[list[str]]:
    """Split lines into the blocks of the keys at `indent` (comments above a key go with it)."""
    out: list[list[str]] = []
    pending: list[str] = []
    for line in lines:
        stripped = line.strip()
        starts_key = (
            len(line) - len(line.lstrip()) == indent
            and stripped
            and not stripped.startswith(("#", "-"))
        )
        if starts_key:
            out.append([*pending, line])
            pending = []
        elif (
            not stripped
            or (stripped.startswith("#") and not out)
            or (stripped.startswith("#") and len(line) - len(line.lstrip()) <= indent)
        ):
            pending.append(line)
        else:
            out[-1].append(line)
    if pending and out:
        out[-1].extend(pending)
    return out


def shuffle_top(draw: st.DrawFn, text: str) -> str:
    """Permute the top-level sections, and the keys inside `salesforce` and the account."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("version"))
    header, body = lines[:first], lines[first:]
    sections = blocks(body, 0)
    for section in sections:
        if section[-1].startswith(("salesforce", "state", "defaults")) or any(
            line.startswith(("salesforce:", "state:", "defaults:")) for line in section
        ):
            at = next(
                i for i, line in enumerate(section) if not line.startswith((" ", "#")) and line
            )
            inner = blocks(section[at + 1 :], 2)
            section[at + 1 :] = [x for b in draw(st.permutations(inner)) for x in b]
    sections = draw(st.permutations(sections))
    return "\n".join(header + [x for s in sections for x in s]) + "\n"


@st.composite
def shuffled_configs(draw: st.DrawFn) -> str:
    text = shuffle_top(draw, EXAMPLE)
    account = re.search(r"^  uk:.*\n((?:    .*\n|\s*\n)+)", text, re.MULTILINE)
    assert account is not None
    inner = blocks(account.group(1).splitlines(), 4)
    shuffled = "\n".join(x for b in draw(st.permutations(inner)) for x in b) + "\n"
    return text[: account.start(1)] + shuffled + text[account.end(1) :]


def comments(text: str) -> list[str]:
    return sorted(m.group(0).strip() for m in re.finditer(r"(?:^|\s)#.*$", text, re.MULTILINE))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shuffled_configs())
def test_any_key_order_formats_back_to_the_example(text: str) -> None:
    assert yaml.safe_load(text) == yaml.safe_load(EXAMPLE)  # the shuffle kept the meaning
    once = format_text(text)
    assert format_text(once) == once
    assert yaml.safe_load(once) == yaml.safe_load(text)
    assert comments(once) == comments(text)
    assert once == EXAMPLE


scalars = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=12),
    st.integers(-1000, 1000),
    st.booleans(),
    st.none(),
    st.sampled_from(["yes", "on", "0777", "61.0", "${X}", "${X:-a: b}", "#c", "a, b", "- x"]),
)
keys = st.sampled_from(["version", "state", "salesforce", "accounts", "zeta", "alpha", "on", "1"])


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(keys, st.one_of(scalars, st.dictionaries(keys, scalars, max_size=4))))
def test_arbitrary_mappings_keep_meaning_and_are_idempotent(data: dict) -> None:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    once = format_text(text)
    assert yaml.safe_load(once) == yaml.safe_load(text)
    assert format_text(once) == once
