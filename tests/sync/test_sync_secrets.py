"""Invariant 7 for the sync side: distinctive secrets appear in no output, report, state or log.

The reconcile suite proves it for validate/plan/apply/status/history; this covers what only the
sync writes: run reports (text and JSON), the dry-run preview, records, a failing run's error
line, and the state files (database, WAL, lock files) afterwards.
"""

from __future__ import annotations

import copy

TOKEN = "sf-TOKEN-Vb8q3Lx1-secret"
PASSWORD = "dd-PASS-Jm5w9Tz2-secret"
USERNAME = "dd-USER-Qe4r7Yu6@example.com"


def test_sync_outputs_and_state_never_contain_secrets(workspace, kit) -> None:
    seed = copy.deepcopy(kit.BASE_SEED)
    seed["dotdigital"]["accounts"][0]["username"] = USERNAME
    seed["dotdigital"]["accounts"][0]["password"] = PASSWORD
    seed["salesforce"]["access_token"] = TOKEN
    ws = workspace(seed)
    ws.add_member("new@example.com", kit.member("New", "Person", "Acme"))
    ws.add_member("skip@example.com", kit.member("No", "Company", None))

    outputs: list[str] = []
    for args in (
        ("sync", "-c", "leadsync.yaml", "--dry-run"),
        ("sync", "-c", "leadsync.yaml"),
        ("sync", "-c", "leadsync.yaml", "--json"),
        ("records", "-c", "leadsync.yaml", "--state", "skipped"),
        ("records", "-c", "leadsync.yaml", "--state", "created", "--json"),
        ("status", "-c", "leadsync.yaml"),
    ):
        proc = ws.run(*args, check=(0, 4))
        outputs += [proc.stdout, proc.stderr]
    assert ws.leads()["new@example.com"]["LastName"] == "Person"

    # A refused login must not echo the credentials either.
    ws.emu.inject_fault("dotdigital", method="GET", path_regex="server-time", status=401, times=5)
    ws.emu.inject_fault("dotdigital", method="GET", path_regex="contacts", status=401, times=5)
    failed = ws.run("sync", "-c", "leadsync.yaml")
    assert failed.returncode == 1
    outputs += [failed.stdout, failed.stderr]

    blobs = [o.encode() for o in outputs]
    blobs += [
        p.read_bytes() for p in ws.root.rglob("*") if p.is_file() and p.name != "leadsync.yaml"
    ]
    assert any(b"new@example.com" in b for b in blobs)  # the outputs are really there
    for secret in (TOKEN, PASSWORD, USERNAME):
        leaked = [i for i, blob in enumerate(blobs) if secret.encode() in blob]
        assert not leaked, (secret, leaked)
