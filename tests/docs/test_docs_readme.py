"""The README and leadsync.yaml.example work as printed (issue 10, items 13-16 and 18).

The snippets are read out of README.md itself, so a later edit that breaks them fails here:
the rehearsal snippet runs in bash against the real `leadsync emulator` command with the
README's seed and a copy of the example; every YAML block and the example validate, raw, against
the shipped JSON Schema with the standard `jsonschema` validator (what an editor does).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from leadsync.emulator.seed import parse_seed

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
EXAMPLE = REPO / "leadsync.yaml.example"
SCHEMA = json.loads((REPO / "schema" / "leadsync.schema.json").read_text(encoding="utf-8"))
LEADSYNC = Path(sys.executable).with_name("leadsync")


def blocks(lang: str) -> list[str]:
    return [body for tag, body in re.findall(r"```(\w*)\n(.*?)```", README, re.S) if tag == lang]


def seed_block() -> str:
    [seed] = [b for b in blocks("yaml") if b.startswith("dotdigital:") and "salesforce:" in b]
    return seed


def rehearsal_block() -> str:
    [snippet] = [b for b in blocks("sh") if "--ready-file" in b]
    return snippet


def test_rehearsal_snippet_runs_as_pasted_with_the_readme_seed_and_the_example(tmp_path):
    """Items 13 and 14: start the emulator in the background, wait for the ready file, read
    it with jq, plan the example against the README's seed (Region__c needs REGION)."""
    if shutil.which("jq") is None:
        pytest.fail("the README's rehearsal snippet uses jq: install it (apt-get install jq)")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "leadsync").symlink_to(LEADSYNC)
    (tmp_path / "my-seed.yaml").write_text(seed_block())
    shutil.copy(EXAMPLE, tmp_path / "leadsync.yaml")
    (tmp_path / ".emulator.json").write_text('{"stale": "from an earlier run"}')
    script = rehearsal_block() + '\nstatus=$?\nkill "$!"\nwait\nexit "$status"\n'
    proc = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Plan: 12 to create, 0 to update, 0 to delete." in proc.stdout, proc.stdout[-2000:]
    assert 'account.uk.contact_mapping["LastName"] will be created' in proc.stdout
    assert "Traceback" not in proc.stderr and "jq: error" not in proc.stderr, proc.stderr
    assert 'account.uk.lead_mapping["Region__c"] will be created' in proc.stdout


def test_seed_documents_users_connected_apps_and_access_token():
    """Item 14: the keys the seed schema offers for logging in are shown and explained."""
    seed = parse_seed(seed_block(), "README.md")  # the emulator's own reading of the seed
    sf = seed["salesforce"]
    assert {"access_token", "users", "connected_apps"} <= set(sf)
    assert "REGION" in {f["name"] for f in seed["dotdigital"]["accounts"][0]["datafields"]}
    for key in ("access_token", "users", "connected_apps"):
        assert re.search(rf"^\| `{key}` \| .+ \| .+ \|$", README, re.M), key


def test_example_schema_line_works_once_copied_into_another_repository(tmp_path):
    """Item 15: the example's own instructions make its $schema line resolve elsewhere."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "later issue" not in text
    [command] = [
        line.strip("# ").strip() for line in text.splitlines() if "leadsync schema >" in line
    ]
    other = tmp_path / "other-repo"
    other.mkdir()
    shutil.copy(EXAMPLE, other / "leadsync.yaml")
    env = {"PATH": f"{LEADSYNC.parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["bash", "-c", command], cwd=other, env=env, check=True, timeout=60)
    line = text.splitlines()[0]
    target = line.split("$schema=", 1)[1].strip()
    schema = json.loads((other / target).read_text(encoding="utf-8"))
    assert schema == SCHEMA
    raw = yaml.safe_load((other / "leadsync.yaml").read_text(encoding="utf-8"))
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(raw)) == []
    path = subprocess.run(
        [str(LEADSYNC), "schema", "--path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert json.loads(Path(path).read_text(encoding="utf-8")) == SCHEMA


def _errors(schema: dict[str, Any], document: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_example_and_readme_yaml_validate_raw_against_the_schema():
    """Item 16: what the YAML language server does with the $schema line: no error on the
    recommended lines (${SF_INSTANCE_URL}, ${DD_UK_ENDPOINT:-https://...})."""
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert _errors(SCHEMA, example) == []
    fragment_schema = {**SCHEMA, "required": []}  # README blocks show parts of a config
    checked = 0
    for block in blocks("yaml"):
        doc = yaml.safe_load(block)
        if isinstance(doc, dict) and "dotdigital" in doc:
            continue  # the emulator seed: checked by the emulator's reader above
        assert isinstance(doc, dict) and set(doc) <= set(SCHEMA["properties"]), block
        assert _errors(fragment_schema, doc) == [], block
        checked += 1
    assert checked >= 1  # the PostgreSQL state block at least
