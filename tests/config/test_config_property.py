"""Property: whatever the file holds, validate answers 0 or 1, never raises, and every finding has
a place (line >= 1). Runs in-process (load_text/load_bytes) so thousands of cases stay fast."""

from __future__ import annotations

import copy
import json
import re

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.applied import snapshot
from leadsync.config import load_bytes, load_text, schema
from leadsync.config.source import parse
from leadsync.config.validate import exit_code
from leadsync.views.diagnostics import render_json, render_text

ENV = {
    "SF_INSTANCE_URL": "https://127.0.0.1:8443",
    "SF_ACCESS_TOKEN": "00Dsecret-TOKEN-q9z7",
    "DD_UK_USERNAME": "apiuser-SECRET-u4k2@apiconnector.com",
    "DD_UK_PASSWORD": "pw-SECRET-x81!",
}
SECRET_VALUES = ("00Dsecret-TOKEN-q9z7", "apiuser-SECRET-u4k2", "pw-SECRET-x81!")

BASE_TEXT = """\
version: 1
state: {backend: sqlite, path: .leadsync/state.db}
salesforce:
  instance_url: ${SF_INSTANCE_URL}
  auth: {access_token: "${SF_ACCESS_TOKEN}"}
  ca_bundle: ${SF_CA_BUNDLE:-}
  api_version: "61.0"
defaults: {lead_status: New, campaign_member_status: Sent}
sync: {bulk_threshold: 2000, max_api_share: 0.5, allow_duplicate_save: false, overlap_seconds: 300}
accounts:
  uk:
    dotdigital:
      endpoint: ${DD_UK_ENDPOINT:-https://r1-api.dotdigital.com}
      username: ${DD_UK_USERNAME}
      password: ${DD_UK_PASSWORD}
    clear_address_books: false
    create_missing_datafields: false
    lead_mapping:
      - {salesforce: FirstName, datafield: FIRSTNAME, direction: two-way}
      - {salesforce: LastName, datafield: LASTNAME, direction: dotdigital-to-salesforce}
      - {salesforce: Company, datafield: COMPANY, direction: two-way}
    address_books:
      - {name: Webinar signups, create_leads: true, campaign: Spring Webinar 2026, backfill: false}
"""
BASE = yaml.safe_load(BASE_TEXT)
CODE = re.compile(r"^LS\d{3}$")
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

odd_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
) | st.sampled_from(
    [
        "",
        " ",
        "${",
        "${X",
        "${DD_UK_PASSWORD}",
        "${UNSET_VAR}",
        "$${A}",
        "${A:-}",
        "two-way",
        "r1",
        "\u202e\u0000\ufeff",
        "💥" * 30,
        "x" * 5000,
        "- a\n- b",
        "yes",
        "1e400",
        "0x1F",
        "2026-13-45",
    ]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | odd_text
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(odd_text, children, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


ALL_PATHS = list(_paths(BASE))


def _parent(doc, path):
    node = doc
    for part in path[:-1]:
        node = node[part]
    return node


@st.composite
def mutated_docs(draw):
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(ALL_PATHS[1:]))
        try:
            parent = _parent(doc, path)
            parent[path[-1]]  # still there after earlier mutations?
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(parent, dict | list):  # an earlier mutation replaced it by a scalar
            continue
        action = draw(st.sampled_from(["delete", "replace", "unknown_key", "duplicate"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "unknown_key" and isinstance(parent[path[-1]], dict):
            parent[path[-1]][draw(odd_text)] = draw(values)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
    return doc


def _check(result) -> None:
    for d in result.diagnostics:
        assert CODE.match(d.code), d
        assert d.severity in ("error", "warning")
        assert d.line >= 1 and d.column >= 1, d
        assert d.path
        assert not any(secret in d.message for secret in SECRET_VALUES), d
    assert exit_code(result.diagnostics) in (0, 1)
    render_text(result.diagnostics)
    json.loads(render_json(result.diagnostics))
    if exit_code(result.diagnostics) == 0:
        assert result.config is not None
        json.dumps(snapshot(result.config, "salt"))
    else:
        assert result.config is None


FAST = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@settings(max_examples=1000, **FAST)
@given(doc=mutated_docs())
def test_structural_mutations(doc):
    text = yaml.dump(doc, Dumper=_DUMPER, allow_unicode=True, sort_keys=False, width=10_000)
    _check(load_text(text, "fuzz.yaml", env=ENV))


@st.composite
def mangled_text(draw):
    text = BASE_TEXT
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "truncate", "tab", "dup_line"]))
        if kind == "insert":
            text = (
                text[:at]
                + draw(odd_text | st.sampled_from([":", "- ", "{", "]", "&a", "*a", "!!x", "\n  "]))
                + text[at:]
            )
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(min_value=1, max_value=30)) :]
        elif kind == "truncate":
            text = text[:at]
        elif kind == "tab":
            text = text[:at] + "\t" + text[at:]
        else:
            lines = text.splitlines(keepends=True)
            i = draw(st.integers(min_value=0, max_value=max(len(lines) - 1, 0)))
            text = "".join(lines[: i + 1] + lines[i:])
    return text


@settings(max_examples=1000, **FAST)
@given(text=mangled_text())
def test_broken_yaml_text(text):
    _check(load_text(text, "fuzz.yaml", env=ENV))


@settings(max_examples=300, **FAST)
@given(
    raw=st.binary(max_size=300)
    | st.builds(
        lambda b, t: t.encode()[: len(t) // 2] + b, st.binary(max_size=8), st.just(BASE_TEXT)
    )
)
def test_arbitrary_bytes(raw):
    _check(load_bytes(raw, "fuzz.yaml", env=ENV))


@st.composite
def envs(draw):
    """The test env with some variables unset, as a pre-commit hook (no secrets) has it."""
    unset = draw(st.sets(st.sampled_from(sorted(ENV))))
    return {k: v for k, v in ENV.items() if k not in unset}


def _schema_diagnostics(text: str, env: dict[str, str], *, quick: bool) -> list:
    tree = parse(text.encode("utf-8", "surrogatepass"), "fuzz.yaml", env)
    if tree.ok:
        schema.check(tree, quick=quick)
    return sorted(set(tree.diagnostics), key=lambda d: (d.path, d.code, d.message, d.line))


@settings(max_examples=600, **FAST)
@given(doc=mutated_docs(), env=envs())
def test_the_quick_conformance_check_agrees_with_jsonschema(doc, env):
    """The loader skips jsonschema when conformance.conforms says a file conforms (start-up,
    issue 17); it must never say so where jsonschema's diagnostics would remain."""
    text = yaml.dump(doc, Dumper=_DUMPER, allow_unicode=True, sort_keys=False, width=10_000)
    quick = _schema_diagnostics(text, env, quick=True)
    assert quick == _schema_diagnostics(text, env, quick=False)
