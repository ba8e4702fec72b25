"""`${VAR}` / `${VAR:-default}` substitution in YAML scalars, done once when the config is loaded.

Why our own tiny parser instead of `os.path.expandvars` or `string.Template`: we must know, per
scalar, which variables were used, which were unset (to name them, never their values), whether a
default came from the file, and whether any literal text surrounds the references (a literal
secret in a committed file deserves a warning). `$${` writes a literal `${`.

Shell semantics for `:-`: the default is used when the variable is unset OR empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


@dataclass(slots=True)
class Interpolated:
    """The outcome of substituting one scalar."""

    value: str
    used: list[str] = field(default_factory=list)  # variables referenced, in order
    unset: list[tuple[str, int]] = field(default_factory=list)  # (name, offset in raw text)
    empty: list[str] = field(default_factory=list)  # set to "" and no default to fall back on
    malformed: list[int] = field(default_factory=list)  # offsets of `${` that do not parse
    literal_text: bool = False  # any text outside references (or a non-empty default)

    @property
    def has_refs(self) -> bool:
        return bool(self.used)


def interpolate(raw: str, env: Mapping[str, str]) -> Interpolated:
    """Substitute references in `raw`; unset variables become "" and are reported, not raised."""
    out: list[str] = []
    result = Interpolated(value="")
    i = 0
    n = len(raw)
    while i < n:
        if raw.startswith("$${", i):
            out.append("${")
            result.literal_text = True
            i += 3
            continue
        if raw.startswith("${", i):
            match = _REF.match(raw, i)
            if match is None:
                result.malformed.append(i)
                out.append("${")
                result.literal_text = True
                i += 2
                continue
            name = match.group("name")
            default = match.group("default")
            result.used.append(name)
            current = env.get(name)
            if default is not None:
                if default:
                    result.literal_text = True
                out.append(current if current else default)
            elif current is None:
                result.unset.append((name, i))
            else:
                if not current:
                    result.empty.append(name)
                out.append(current)
            i = match.end()
            continue
        out.append(raw[i])
        if not raw[i].isspace():
            result.literal_text = True
        i += 1
    result.value = "".join(out)
    return result


def mentions_reference(raw: str) -> bool:
    """Cheap pre-check so scalars without `${` skip the parser entirely."""
    return "${" in raw
