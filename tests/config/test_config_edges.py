"""Bad config input that used to slip through or mislead (issue 10): validate -c, the CA bundle
file, URLs with credentials, empty variables, merge keys, grammar, `${VAR}` in the schema."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from leadsync.config import load
from leadsync.config.fmt import FmtError, format_text

REPO = Path(__file__).resolve().parents[2]
LEADSYNC = str(Path(sys.executable).with_name("leadsync"))


def run(args: list[str], env: dict[str, str], cwd: Path | None = None):
    full_env = {"PATH": os.environ.get("PATH", ""), **env}
    return subprocess.run(
        [LEADSYNC, *args], env=full_env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def errors(result) -> list[str]:
    return [d.format() for d in result.diagnostics if d.severity == "error"]


# --- item 17: validate -c FILE ----------------------------------------------------------------


def test_validate_takes_c_like_every_command(tmp_path, base, env):
    (tmp_path / "conf").mkdir()
    config = tmp_path / "conf" / "integration.yaml"
    config.write_text(base)
    for args in (["-c", str(config)], ["--config", str(config)], [str(config)]):
        proc = run(["validate", *args], env, cwd=tmp_path)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        assert proc.stderr.strip() == f"{config}: valid"
    broken = tmp_path / "broken.yaml"
    broken.write_text(base.replace("version: 1", "version: 2"))
    proc = run(["validate", "-c", str(broken), "--json"], env, cwd=tmp_path)
    assert proc.returncode == 1 and '"LS027"' in proc.stdout
    proc = run(["validate", str(config), "-c", str(broken)], env, cwd=tmp_path)
    assert proc.returncode == 1 and "name one" in proc.stderr and "Traceback" not in proc.stderr


# --- item 9: the CA bundle ---------------------------------------------------------------------


def test_ca_bundle_missing_or_not_pem_is_ls030_at_its_line(write, base, env, where, tmp_path):
    line_of, col_of = where
    path = write(base)
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("-----BEGIN NOTHING-----\nhello\n")
    cases = [
        (str(tmp_path / "nope.pem"), "does not exist"),
        (str(not_pem), "holds no PEM CA certificate"),
    ]
    for bundle, why in cases:
        result = load(path, {**env, "SF_CA_BUNDLE": bundle})
        [d] = [d for d in result.diagnostics if d.code == "LS030"]
        assert result.config is None and d.path == "salesforce.ca_bundle"
        assert (d.line, d.column) == (line_of(base, "ca_bundle:"), col_of(base, "${SF_CA_BUNDLE"))
        assert bundle in d.message and why in d.message and "set SF_CA_BUNDLE" in d.message
    # a literal relative path is resolved against the config's directory and shown both ways
    text = base.replace("${SF_CA_BUNDLE:-}", "certs/corp.pem")
    [d] = [d for d in load(write(text), env).diagnostics if d.code == "LS030"]
    assert "certs/corp.pem (" in d.message and str(tmp_path / "certs" / "corp.pem") in d.message
    assert "set salesforce.ca_bundle" in d.message
    # a variable that also holds a secret is never shown, even as a path
    text = base.replace("${SF_CA_BUNDLE:-}", "${DD_UK_PASSWORD}")
    [d] = [d for d in load(write(text), env).diagnostics if d.code == "LS030"]
    assert (
        env["DD_UK_PASSWORD"] not in d.message and "(the value of ${DD_UK_PASSWORD})" in d.message
    )
    # fine: a real PEM bundle, a CA directory, empty (the system store)
    assert errors(load(path, env)) == []  # conftest's SF_CA_BUNDLE is a real PEM bundle
    assert errors(load(path, {**env, "SF_CA_BUNDLE": str(tmp_path)})) == []
    assert errors(load(path, {**env, "SF_CA_BUNDLE": ""})) == []
    proc = run(["validate", path], {**env, "SF_CA_BUNDLE": str(not_pem)})
    assert proc.returncode == 1 and f"{path}:{line_of(base, 'ca_bundle:')}:" in proc.stdout


# --- item 11: a URL that carries user:password -----------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("${SF_INSTANCE_URL}", "https://admin:Hunter2pw@acme.my.salesforce.com", "instance_url"),
        (
            "${DD_UK_ENDPOINT:-https://r1-api.dotdigital.com}",
            "https://apiuser:Hunter2pw@r1-api.dotdigital.com",
            "endpoint",
        ),
    ],
)
def test_url_with_credentials_is_refused_and_never_printed(write, base, env, old, new, where):
    path = write(base.replace(old, new))
    proc = run(["validate", path], env)
    assert proc.returncode == 1 and "LS028" in proc.stdout and where in proc.stdout
    assert "Hunter2pw" not in proc.stdout + proc.stderr
    assert "admin" not in proc.stdout + proc.stderr and "apiuser:" not in proc.stdout
    as_json = run(["validate", path, "--json"], env)
    assert "LS028" in as_json.stdout and "Hunter2pw" not in as_json.stdout


def test_url_with_credentials_from_the_environment_is_refused_too(write, base, env):
    path = write(base)
    url = "https://u:Hunter2pw@acme.my.salesforce.com"
    proc = run(["validate", path], {**env, "SF_INSTANCE_URL": url})
    assert proc.returncode == 1 and "LS028" in proc.stdout
    assert "Hunter2pw" not in proc.stdout + proc.stderr
    plan = run(["plan", "-c", path], {**env, "SF_INSTANCE_URL": url})
    assert plan.returncode == 1 and "LS028" in plan.stderr
    assert "Hunter2pw" not in plan.stdout + plan.stderr and "Traceback" not in plan.stderr


# --- item 12: empty variables, merge keys, grammar ----------------------------------------


def test_a_set_but_empty_variable_says_so_and_names_it(write, base, env, where):
    line_of, _ = where
    path = write(base)
    result = load(path, {**env, "SF_ACCESS_TOKEN": "", "SF_INSTANCE_URL": ""})
    by_path = {d.path: d for d in result.diagnostics}
    token = by_path["salesforce.auth.access_token"]
    assert token.code == "LS013" and token.line == line_of(base, "access_token:")
    assert token.message.startswith("environment variable SF_ACCESS_TOKEN is set but empty")
    url = by_path["salesforce.instance_url"]
    assert url.code == "LS013" and "SF_INSTANCE_URL is set but empty" in url.message
    assert "https://acme.my.salesforce.com" in url.message  # what a good value looks like
    # unset stays LS010; empty with a :-default uses the default; an empty CA bundle is fine
    assert [d.code for d in load(path, {**env, "SF_ACCESS_TOKEN": ""}).diagnostics] == ["LS013"]
    no_token = {k: v for k, v in env.items() if k != "SF_ACCESS_TOKEN"}
    assert [d.code for d in load(path, no_token).diagnostics] == ["LS010"]
    assert errors(load(path, {**env, "DD_UK_ENDPOINT": ""})) == []


# Inputs both commands must judge alike: accepted by both, or refused by both.
YAML_FORMS = {
    "plain": ("", True),
    "merge key": ("x-base:\n  <<: {a: 1}\n", False),
    "merge with alias": ("x-a: &a {b: 1}\nx-b:\n  <<: *a\n", False),
    "anchor and alias": ("x-a: &a 1\nx-b: *a\n", False),
    "tag": ("x-a: !!str 5\n", False),
    "quoted << key": ('x-a:\n  "<<": 1\n', True),
    "complex key": ("? [a, b]\n: c\n", False),
    "second document": ("---\nversion: 1\n", False),
    "duplicate key": ("version: 1\n", False),
    "text with & * !": ("x-a: 'R&D *star* !bang'\n", True),
}


def test_fmt_and_validate_accept_the_same_yaml(write, base, env):
    for name, (extra, accepted) in YAML_FORMS.items():
        text = base + extra
        found = load(write(text), env).diagnostics
        syntax = [d for d in found if d.code in ("LS003", "LS004", "LS005")]
        try:
            format_text(text, "x.yaml")
            fmt_message = ""
        except FmtError as exc:
            fmt_message = str(exc)
        assert (not syntax) is accepted and (not fmt_message) is accepted, (name, syntax)
        if name.startswith("merge"):  # merge keys get their own words, in both
            assert syntax[-1].message.startswith("merge keys (<<) are not supported"), name
            assert "merge keys (<<)" in fmt_message, name


def test_merge_key_is_one_clear_line_from_both_commands(write, base, env, where):
    line_of, col_of = where
    text = base.replace(
        "    clear_address_books: false\n",
        "    <<: {clear_address_books: false}\n",
    )
    path = write(text)
    proc = run(["validate", path], env)
    expected = f"{path}:{line_of(text, '<<:')}:{col_of(text, '<<:')}: error LS005: merge keys"
    assert proc.returncode == 1 and proc.stdout.startswith(expected), proc.stdout
    fmt = run(["fmt", "--check", path], env)
    assert fmt.returncode == 1 and "Traceback" not in fmt.stderr, fmt.stderr
    assert f"{line_of(text, '<<:')}:{col_of(text, '<<:')}: fmt does not support merge keys" in (
        fmt.stderr
    )


def test_book_lists_read_as_english(write, base, env):
    two = base.replace(
        "        campaign: Spring Webinar 2026\n",
        "        campaign: Spring Webinar 2026\n      - name: Trade show\n        create_leads: true\n",
    )
    text = two.replace("clear_address_books: false", "clear_address_books: true")
    [d] = [d for d in load(write(text), env).diagnostics if d.code == "LS101"]
    assert "address books 'Webinar signups' and 'Trade show' have create_leads" in d.message
    unmapped = "".join(ln for ln in two.splitlines(keepends=True) if "Company" not in ln)
    [d] = [d for d in load(write(unmapped), env).diagnostics if d.code == "LS102"]
    assert "address books 'Webinar signups' and 'Trade show' create Leads" in d.message
    one = "".join(ln for ln in base.splitlines(keepends=True) if "Company" not in ln)
    [d] = [d for d in load(write(one), env).diagnostics if d.code == "LS102"]
    assert "address book 'Webinar signups' creates Leads" in d.message


# --- item 16: every field that may hold ${VAR} accepts it in the schema --------------------


FULL = {
    "version": 1,
    "state": {"backend": "postgres", "path": "s.db", "dsn": "x", "schema": "leadsync"},
    "salesforce": {
        "instance_url": "https://acme.my.salesforce.com",
        "auth": {"access_token": "t"},
        "ca_bundle": "ca.pem",
        "api_version": "61.0",
    },
    "defaults": {
        "lead_status": "New",
        "campaign_member_status": "Sent",
        "assignment_rule": "active",
    },
    "sync": {
        "bulk_threshold": 2000,
        "max_api_share": 0.5,
        "allow_duplicate_save": False,
        "overlap_seconds": 300,
        "in_doubt_grace": "15m",
        "sweep_every": "24h",
    },
    "accounts": {
        "uk": {
            "dotdigital": {
                "endpoint": "https://r1-api.dotdigital.com",
                "username": "u",
                "password": "p",
            },
            "clear_address_books": False,
            "create_missing_datafields": False,
            "lead_mapping": [
                {"salesforce": "FirstName", "datafield": "FIRSTNAME", "direction": "two-way"}
            ],
            "contact_mapping": [
                {"salesforce": "Title", "datafield": "JOBTITLE", "direction": "two-way"}
            ],
            "address_books": [
                {
                    "name": "B",
                    "create_leads": True,
                    "campaign": "C",
                    "backfill": False,
                    "add_existing_to_campaign": True,
                    "push_campaign_members": True,
                    "member_statuses": ["Sent"],
                }
            ],
        }
    },
}
AUTH_FORMS = [
    {"username": "u", "password": "p", "security_token": "s", "domain": "test",
     "consumer_key": "k", "consumer_secret": "c", "login_url": "https://test.salesforce.com"},
    {"username": "u", "consumer_key": "k", "private_key_file": "k.pem", "domain": "test",
     "login_url": "https://test.salesforce.com"},
]  # fmt: skip
REGION_FORM = {"region": "r1", "username": "u", "password": "p"}


def _leaves(node: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(node, list):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, (*path, i))]
    return [path]


def _documents() -> list[dict]:
    docs = [copy.deepcopy(FULL)]
    for auth in AUTH_FORMS:
        doc = copy.deepcopy(FULL)
        doc["salesforce"]["auth"] = auth
        docs.append(doc)
    doc = copy.deepcopy(FULL)
    doc["accounts"]["uk"]["dotdigital"] = dict(REGION_FORM)
    docs.append(doc)
    return docs


def _set(doc: dict, path: tuple, value: Any) -> None:
    for part in path[:-1]:
        doc = doc[part]
    doc[path[-1]] = value


def _schema_leaf_keys(schema: dict) -> set[str]:
    keys: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                keys.add(name)
                walk(sub)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return keys


def test_every_field_but_version_accepts_a_var_reference_in_the_editor_schema(write, base, env):
    """What the YAML language server does with the $schema line: validate the raw text. The
    loader still checks what the variable stands for."""
    schema = json.loads((REPO / "schema" / "leadsync.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    docs = _documents()
    for doc in docs:
        assert list(validator.iter_errors(doc)) == [], doc
    leaves = {path for doc in docs for path in _leaves(doc)} - {("version",)}
    covered = {str(p[-1]) if not isinstance(p[-1], int) else str(p[-2]) for p in leaves}
    objects = {"state", "salesforce", "auth", "defaults", "sync", "accounts", "dotdigital"}
    objects |= {"lead_mapping", "contact_mapping", "address_books", "version"}
    assert _schema_leaf_keys(schema) - objects <= covered  # every field of the schema is tried
    for doc in docs:
        for path in _leaves(doc):
            if path == ("version",):
                continue
            for ref in ("${LEADSYNC_X}", "${LEADSYNC_X:-fallback}"):
                trial = copy.deepcopy(doc)
                _set(trial, path, ref)
                found = [e.message for e in validator.iter_errors(trial)]
                assert found == [], (path, ref, found)
    for old, new, bad, good, code in LOADER_CASES:
        path = write(base.replace(old, new, 1))
        found = load(path, {**env, "X": bad}).diagnostics
        assert [d.code for d in found if d.severity == "error"] == [code], (old, found)
        assert load(path, {**env, "X": good}).diagnostics == [], old


LOADER_CASES = [
    ("direction: two-way}", 'direction: "${X}"}', "sideways", "two-way", "LS023"),
    ("datafield: FIRSTNAME,", 'datafield: "${X}",', "not a datafield!", "FIRSTNAME", "LS024"),
    ("create_leads: true", "create_leads: ${X}", "maybe", "true", "LS022"),
    ('api_version: "61.0"', "api_version: ${X}", "61", "61.0", "LS024"),
]
