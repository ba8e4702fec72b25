"""Each auth form of leadsync.yaml, end to end through `plan`, `apply` and `sync` against the
emulator: an access token, the OAuth username-password flow (connected app), the SOAP login
(username + password + security token, no connected app) and the JWT bearer flow (a private key
whose certificate the connected app holds)."""

from __future__ import annotations

import copy

import pytest

SOAP_AUTH = (
    "    username: ${SF_USERNAME}\n"
    "    password: ${SF_PASSWORD}\n"
    "    security_token: ${SF_SECURITY_TOKEN}\n"
    "    login_url: ${SF_LOGIN_URL}\n"
)
JWT_AUTH = (
    "    username: ${SF_USERNAME}\n"
    "    consumer_key: ${SF_CONSUMER_KEY}\n"
    "    private_key_file: keys/connected-app.key\n"
    "    login_url: ${SF_LOGIN_URL}\n"
)


@pytest.mark.parametrize(
    ("form", "login_route"),
    [
        ("access_token", None),
        ("oauth_password", "POST /services/oauth2/token"),
        ("soap_password", "POST /services/Soap/u/{version}"),
        ("jwt", "POST /services/oauth2/token"),
    ],
)
def test_plan_and_sync_with_each_auth_form(workspace, kit, app_keys, form, login_route):
    auth = {
        "access_token": "    access_token: ${SF_ACCESS_TOKEN}\n",
        "oauth_password": kit.PASSWORD_AUTH,
        "soap_password": SOAP_AUTH,
        "jwt": JWT_AUTH,
    }[form]
    seed = copy.deepcopy(kit.BASE_SEED)
    seed["salesforce"]["connected_apps"][0]["certificate"] = app_keys.certificate_pem
    seed["salesforce"]["users"][0].update(password="pw-Qz81kk", security_token="TKN93xbQ")
    ws = workspace(seed=seed, config=kit.config_yaml(auth=auth), apply=False)
    (ws.root / "keys").mkdir()
    (ws.root / "keys" / "connected-app.key").write_text(app_keys.private_pem)
    ws.emu.reset_log()

    plan = ws.run("plan", "-c", "leadsync.yaml", check=(0,))
    assert "Webinar signups" in plan.stdout
    ws.apply()
    ws.add_member("ada@example.com", kit.member("Ada", "Lovelace", "Engines"))
    report = ws.sync()
    assert report["_exit"] == 0 and report["books"][0]["created"] == 1
    assert ws.leads()["ada@example.com"]["LastName"] == "Lovelace"

    counts = ws.emu.requests_log("salesforce")["counts"]
    logins = {k: n for k, n in counts.items() if "oauth2" in k or "Soap" in k}
    if login_route is None:
        assert logins == {}
    else:  # one login per command: plan, apply, sync
        assert logins == {login_route: 3}
    for secret in ("pw-Qz81kk", "TKN93xbQ", ws.emu.access_token, app_keys.private_pem.split()[5]):
        assert secret not in plan.stdout + plan.stderr + report["_stderr"]


def test_jwt_refused_names_salesforce_answer(workspace, kit, other_keys, app_keys):
    """A key whose certificate the app does not hold: plan stops with Salesforce's own words."""
    seed = copy.deepcopy(kit.BASE_SEED)
    seed["salesforce"]["connected_apps"][0]["certificate"] = app_keys.certificate_pem
    ws = workspace(seed=seed, config=kit.config_yaml(auth=JWT_AUTH), apply=False)
    (ws.root / "keys").mkdir()
    (ws.root / "keys" / "connected-app.key").write_text(other_keys.private_pem)
    proc = ws.run("plan", "-c", "leadsync.yaml", check=(1,))
    last = proc.stderr.strip().splitlines()[-1]
    assert "invalid_grant" in last and "invalid assertion" in last
    assert other_keys.private_pem.splitlines()[1] not in proc.stderr
