"""`-v/--verbose` (before or after the command) and LEADSYNC_LOG=debug|info show every retry on
stderr with the endpoint, the HTTP status and Salesforce's request id, and never a secret."""

from __future__ import annotations

import copy
import re

import pytest

CREATE = r"/services/data/v[\d.]+/composite/sobjects$"


def secrets_of(ws) -> list[str]:
    names = ("SF_ACCESS_TOKEN", "DD_UK_USERNAME", "DD_UK_PASSWORD", "SF_PASSWORD")
    names += ("SF_SECURITY_TOKEN", "SF_CONSUMER_SECRET")
    return [ws.env[n] for n in names if ws.env.get(n)]


def refused_once(ws, method: str, regex: str) -> str:
    """Salesforce answers the next matching request 503; returns that request's id as the
    emulator logged it (read after the run)."""
    ws.emu.reset_log()
    ws.emu.inject_fault("salesforce", method=method, path_regex=regex, status=503, times=1)
    return regex


def logged_ids(ws, status: int, regex: str) -> list[str]:
    """Request ids the emulator gave the matching requests it answered with `status`."""
    return [
        r["request_id"]
        for r in ws.emu.requests_log("salesforce")["requests"]
        if r["status"] == status and re.search(regex, r["path"])
    ]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("-v", "sync"), {}),
        (("sync", "--verbose"), {}),
        (("sync",), {"LEADSYNC_LOG": "debug"}),
    ],
    ids=["global-v", "command-verbose", "LEADSYNC_LOG=debug"],
)
def test_a_retried_create_is_logged_with_endpoint_status_and_request_id(workspace, kit, args, env):
    ws = workspace()
    ws.env.update(env)
    ws.add_member("v1@example.com", kit.member("Vera", "One", "Acme"))
    refused_once(ws, "POST", CREATE)
    proc = ws.run(*args, "-c", "leadsync.yaml", "--json", check=(0,))
    assert '"created": 1' in proc.stdout

    [rid] = logged_ids(ws, 503, CREATE)
    [line] = [ln for ln in proc.stderr.splitlines() if "retry" in ln]
    assert line.startswith("info: salesforce: create Lead: SERVER_UNAVAILABLE")
    assert re.search(
        rf"POST https://127\.0\.0\.1:\d+{CREATE[:-1]} -> 503, request id {rid}; retry 1 of 4 in ",
        line,
    ), line
    # debug: every request, the successful create with its own request id
    for ok in logged_ids(ws, 200, CREATE):  # the Lead, then its CampaignMember
        line = f"composite/sobjects -> 200, request id {ok}"
        assert re.search(rf"^debug: salesforce: POST https://\S+{line}$", proc.stderr, re.M)
    printed = proc.stdout + proc.stderr
    for secret in secrets_of(ws):
        assert secret not in printed


def test_info_shows_retries_only_and_the_default_shows_nothing(workspace, kit):
    ws = workspace()
    ws.add_member("q1@example.com", kit.member("Quin", "One", "Acme"))
    refused_once(ws, "POST", CREATE)
    quiet = ws.run("sync", "-c", "leadsync.yaml", "--json", check=(0,))
    assert "retry" not in quiet.stderr and "debug:" not in quiet.stderr

    ws.add_member("q2@example.com", kit.member("Quin", "Two", "Acme"))
    refused_once(ws, "POST", CREATE)
    ws.env["LEADSYNC_LOG"] = "info"
    info = ws.run("sync", "-c", "leadsync.yaml", "--json", check=(0,))
    assert [ln for ln in info.stderr.splitlines() if ln.startswith("info: ")]
    assert "retry 1 of 4" in info.stderr and "debug:" not in info.stderr
    assert len(ws.leads()) == 3  # Grace, and one Lead per run: a 503 was not applied


def test_a_retried_login_names_the_token_endpoint_and_no_credential(workspace, kit):
    """Password auth: the token request carries password, security token and consumer secret
    in its body; -v names the endpoint and status only."""
    seed = copy.deepcopy(kit.BASE_SEED)
    seed["salesforce"]["users"][0].update(password="pw-Zq81x", security_token="sectok-Zq81x")
    seed["salesforce"]["connected_apps"][0]["consumer_secret"] = "csecret-Zq81x"
    ws = workspace(seed=seed, config=kit.config_yaml(auth=kit.PASSWORD_AUTH))
    refused_once(ws, "POST", r"/services/oauth2/token$")
    proc = ws.run("plan", "-c", "leadsync.yaml", "-v", check=(0,))
    [rid] = logged_ids(ws, 503, r"/services/oauth2/token$")
    assert re.search(
        rf"^info: salesforce: login: HTTP 503; POST https://\S+/services/oauth2/token -> 503, "
        rf"request id {rid}; retry 1 of 4",
        proc.stderr,
        re.M,
    ), proc.stderr
    printed = proc.stdout + proc.stderr
    assert len(secrets_of(ws)) == 6 and not [s for s in secrets_of(ws) if s in printed]
    assert "00D" not in proc.stderr  # no session id shape either (the token response's)


def test_an_unknown_leadsync_log_level_is_named(workspace):
    ws = workspace(apply=False)
    ws.env["LEADSYNC_LOG"] = "chatty"
    proc = ws.run("status", "-c", "leadsync.yaml", check=(0,))
    assert "warning: LEADSYNC_LOG='chatty' is not a level (debug, info, warning, error)" in (
        proc.stderr
    )
