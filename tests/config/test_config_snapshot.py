"""snapshot(): the canonical applied-config view plan/apply/status compare, and the schema file."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from leadsync.applied import differences, snapshot
from leadsync.config import load, schema_file
from leadsync.config.model import Defaults, SyncSettings
from leadsync.config.schema import config_schema
from leadsync.duration import PATTERN, parse_duration


def test_snapshot_is_canonical_and_secret_free(write, base, env, secret_values):
    path = write(base)
    cfg = load(path, env).config
    snap = snapshot(cfg, "salt-1")
    text = json.dumps(snap, sort_keys=True)
    assert not any(s in text for s in secret_values)
    assert "line" not in text and "column" not in text
    assert snap == snapshot(load(path, env).config, "salt-1")
    assert "state" not in snap  # where the state lives is not part of the integration
    assert snap["salesforce"]["auth"]["access_token"].startswith("hmac-sha256:")
    uk = snap["accounts"]["uk"]
    assert [r["salesforce"] for r in uk["lead_mapping"]] == ["Company", "FirstName", "LastName"]
    assert uk["address_books"] == [
        {
            "name": "Webinar signups",
            "create_leads": True,
            "campaign": "Spring Webinar 2026",
            "backfill": False,
            "add_existing_to_campaign": True,
        }
    ]


def test_snapshot_ignores_layout_but_sees_changed_secrets(write, base, env):
    cfg = load(write(base), env).config
    lines = base.splitlines(keepends=True)
    first = next(i for i, ln in enumerate(lines) if "FirstName" in ln)
    reordered = [
        *lines[:first],
        lines[first + 2],
        lines[first + 1],
        lines[first],
        *lines[first + 3 :],
    ]
    moved = "# a comment moves every line\n" + "".join(reordered)
    assert snapshot(load(write(moved), env).config, "s") == snapshot(cfg, "s")
    changed = load(write(base), {**env, "DD_UK_PASSWORD": "another"}).config
    a, b = snapshot(cfg, "s"), snapshot(changed, "s")
    assert (
        a["accounts"]["uk"]["dotdigital"]["password"]
        != b["accounts"]["uk"]["dotdigital"]["password"]
    )
    assert a["salesforce"] == b["salesforce"]
    assert snapshot(cfg, "other-salt") != snapshot(cfg, "s")


def _as_format_1(snap: dict, path: str, dsn_fingerprint: str | None = None) -> dict:
    """The snapshot exactly as leadsync 0.1.0 recorded it (format 1): with the state location
    and the Dotdigital address as written. Applied states written then must stay readable."""
    old = json.loads(json.dumps(snap))
    old["format"] = 1
    old["state"] = {
        "backend": "sqlite",
        "path": str(Path(path).parent / ".leadsync/state.db"),
        "dsn": dsn_fingerprint,
        "schema": "leadsync",
    }
    for account in old["accounts"].values():
        dd = account["dotdigital"]
        account["dotdigital"] = {"endpoint": dd["base_url"], "region": None, **dd}
    return old


def test_the_state_location_is_not_a_difference(write, base, env):
    """status and sync compare with `differences`; plan never looked at `state:` at all."""
    path = write(base)
    applied = snapshot(load(path, env).config, "s")
    moved = base.replace("path: .leadsync/state.db", "path: /var/lib/leadsync/other.db")
    pg = base.replace(
        "  backend: sqlite\n  path: .leadsync/state.db\n",
        "  backend: postgres\n  dsn: ${DSN}\n  schema: leadsync\n",
    )
    for text, extra in ((moved, {}), (pg, {"DSN": "postgresql://a:pw1@h/db"})):
        desired = snapshot(load(write(text), {**env, **extra}).config, "s")
        assert differences(applied, desired) == []
    rotated = snapshot(load(write(pg), {**env, "DSN": "postgresql://a:pw2@h/db"}).config, "s")
    assert differences(desired, rotated) == []
    assert differences(_as_format_1(applied, path, "hmac-sha256:x"), applied) == []
    working = base.replace("lead_status: New", "lead_status: Working")
    changed = snapshot(load(write(working), env).config, "s")
    assert differences(_as_format_1(applied, path), changed) == ["defaults.lead_status"]
    other_pw = snapshot(load(path, {**env, "DD_UK_PASSWORD": "x"}).config, "s")
    assert differences(applied, other_pw) == ["accounts.uk.dotdigital"]


def test_a_region_and_its_endpoint_are_one_address(write, base, env):
    region = base.replace(
        "endpoint: ${DD_UK_ENDPOINT:-https://r1-api.dotdigital.com}", "region: r1"
    )
    a = snapshot(load(write(region), env).config, "s")
    b = snapshot(
        load(write(base), {**env, "DD_UK_ENDPOINT": "https://r1-api.dotdigital.com"}).config, "s"
    )
    assert differences(a, b) == []
    c = snapshot(load(write(base), env).config, "s")  # another endpoint: a real change
    assert differences(a, c) == ["accounts.uk.dotdigital"]


def test_schema_file_is_valid_2020_12_and_found():
    path = schema_file()
    assert path.is_file()
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_defaults_match_the_model():
    defs = config_schema()["$defs"]
    sync = {k: v.get("default") for k, v in defs["sync"]["properties"].items()}
    assert parse_duration(sync.pop("in_doubt_grace")) == SyncSettings().in_doubt_grace
    assert parse_duration(sync.pop("sweep_every")) == SyncSettings().sweep_every
    assert sync == {
        "bulk_threshold": SyncSettings().bulk_threshold,
        "max_api_share": SyncSettings().max_api_share,
        "allow_duplicate_save": SyncSettings().allow_duplicate_save,
        "overlap_seconds": SyncSettings().overlap_seconds,
    }
    assert defs["sync"]["properties"]["in_doubt_grace"]["pattern"] == PATTERN
    assert defs["sync"]["properties"]["sweep_every"]["pattern"] == PATTERN
    d = defs["defaults"]["properties"]
    assert d["lead_status"]["default"] == Defaults().lead_status
    assert d["campaign_member_status"]["default"] == Defaults().campaign_member_status
    assert d["assignment_rule"]["default"] == Defaults().assignment_rule
    assert defs["address_book"]["properties"]["backfill"]["default"] is False
    assert defs["mapping_row"]["properties"]["direction"]["enum"] == [
        "two-way",
        "dotdigital-to-salesforce",
        "salesforce-to-dotdigital",
    ]
    assert defs["dotdigital"]["properties"]["region"]["enum"] == ["r1", "r2", "r3"]


def test_every_property_is_documented_for_editors():
    """Completion in editors shows title/description; every key needs one or the other."""

    def walk(node, where):
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                target = sub
                if "$ref" in sub and not ({"title", "description"} & set(sub)):
                    target = config_schema()["$defs"][sub["$ref"].split("/")[-1]]
                assert {"title", "description"} & set(target), f"{where}.{name}"
            for key, value in node.items():
                if key not in ("if", "then"):
                    walk(value, where)

    walk(config_schema(), "$")
