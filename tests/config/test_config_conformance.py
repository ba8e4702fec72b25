"""The quick schema check (config/conformance.py, issue 17 start-up): a config that conforms is
checked without importing jsonschema, and the check never passes what jsonschema refuses.

test_config_property.py compares the loader's diagnostics both ways on mutated configs; here
each keyword is compared with jsonschema on random small schemas and values, and the start-up
saving is checked in a fresh interpreter, as `leadsync validate` and `leadsync sync` start."""

from __future__ import annotations

import json
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from leadsync.config import conformance, schema

KEYS = ["a", "b", "c"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=3)
    | st.floats(min_value=-4, max_value=4)
    | st.sampled_from([float("nan"), float("inf"), 1.0, 0.0])
    | st.text(alphabet="ab1-_ ", max_size=4)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner),
    max_leaves=6,
)
numbers = st.integers(min_value=-2, max_value=3) | st.sampled_from([0.5, 1.0, -1.5])
leaf_keywords = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(
            ["object", "array", "string", "integer", "number", "boolean", "null"]
        )
        | st.lists(st.sampled_from(["string", "integer", "number", "null"]), max_size=2),
        "enum": st.lists(scalars, min_size=1, max_size=3),
        "const": scalars,
        "minLength": st.integers(0, 3),
        "maxLength": st.integers(0, 3),
        "pattern": st.sampled_from(["^a", "b$", "^[a-z]+$", "1"]),
        "minimum": numbers,
        "maximum": numbers,
        "exclusiveMinimum": numbers,
        "exclusiveMaximum": numbers,
        "minItems": st.integers(0, 2),
        "maxItems": st.integers(0, 2),
        "minProperties": st.integers(0, 2),
        "required": st.lists(st.sampled_from(KEYS), max_size=2, unique=True),
        "dependentRequired": st.dictionaries(
            st.sampled_from(KEYS), st.lists(st.sampled_from(KEYS), max_size=2, unique=True)
        ),
        "title": st.just("annotation"),
    },
)


def _with_children(inner: st.SearchStrategy) -> st.SearchStrategy:
    sub = inner | st.booleans()
    children = st.fixed_dictionaries(
        {},
        optional={
            "items": sub,
            "properties": st.dictionaries(st.sampled_from(KEYS), sub, max_size=2),
            "additionalProperties": sub,
            "propertyNames": sub,
            "anyOf": st.lists(sub, min_size=1, max_size=3),
            "oneOf": st.lists(sub, min_size=1, max_size=3),
            "if": sub,
            "then": sub,
            "else": sub,
        },
    )
    return st.tuples(leaf_keywords, children).map(lambda pair: {**pair[0], **pair[1]})


schemas = st.recursive(leaf_keywords, _with_children, max_leaves=5)
FAST = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


def _has_float(node: object) -> bool:
    if isinstance(node, float):
        return True
    if isinstance(node, dict):
        return any(_has_float(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_float(v) for v in node)
    return False


@settings(max_examples=1500, **FAST)
@given(value=values, sub=schemas)
def test_every_keyword_answers_as_jsonschema_does(value, sub):
    assert conformance.supported(sub)
    quick = conformance.conforms(value, sub)
    valid = Draft202012Validator(sub).is_valid(value)
    if quick:
        assert valid, "conforms said yes where jsonschema finds a violation"
    if not _has_float(value) and not _has_float(sub):
        assert quick == valid  # only an int/float comparison may be left to jsonschema


def test_the_shipped_schema_is_checked_quickly_and_an_unknown_keyword_is_not():
    """If the schema gains a keyword conformance.py does not apply, every file goes through
    jsonschema again (slower, never wrong); this says so in the test run."""
    assert conformance.supported(schema.inlined_schema())
    assert not conformance.supported({"properties": {"a": {"format": "email"}}})
    assert not conformance.supported({"type": "strin"})


PROBE = """
import json, sys
from leadsync.config import load_text
given = json.load(sys.stdin)
text, env = given["text"], given["env"]
out = {}
for name, use_env in (("with secrets", env), ("without secrets", {})):
    result = load_text(text, "leadsync.yaml", env=use_env)
    out[name] = sorted({d.code for d in result.diagnostics})
out["jsonschema imported"] = "jsonschema" in sys.modules
bad = text.replace("create_leads: true", "create_leads: yes please")
out["bad"] = [d.format() for d in load_text(bad, "leadsync.yaml", env=env).diagnostics]
print(json.dumps(out))
"""


def test_a_valid_config_loads_without_jsonschema_and_a_bad_one_is_still_caught(base, env):
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        input=json.dumps({"text": base, "env": env}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["with secrets"] == []
    # a pre-commit hook has no secrets: each unset ${VAR} is its own finding (LS010), and the
    # empty values they stand for raise nothing more (the auth form, URL patterns)
    assert out["without secrets"] == ["LS010"]
    assert out["jsonschema imported"] is False
    line = base.splitlines().index("        create_leads: true") + 1
    assert out["bad"][0] == (
        f"leadsync.yaml:{line}:23: error LS022: must be true or false, not text "
        "[accounts.uk.address_books[0].create_leads]"
    )
