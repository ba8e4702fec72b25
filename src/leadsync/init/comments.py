"""Text from the live systems (labels, names, picklist values) made fit for a YAML comment."""

from __future__ import annotations

import re

_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def one_line(text: str) -> str:
    """No line break or control character: a name with a newline must not end the comment
    and start YAML of its own."""
    return _BREAKS.sub(" ", text).strip()
