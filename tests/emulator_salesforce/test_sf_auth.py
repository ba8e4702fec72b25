"""Sessions, OAuth, the daily API counter and the Sforce-Limit-Info header."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceRefusedRequest


def test_unknown_token_is_401(org):
    with pytest.raises(SalesforceExpiredSession) as err:
        org.sf(token="not-a-token").query("SELECT Id FROM Lead")
    assert err.value.status == 401
    assert err.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_expire_token_then_login_again(org):
    sf = org.sf()
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 1
    assert org.control("expire-token").status_code == 200
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT COUNT() FROM Lead")
    user, app = org.backend.users[0], org.backend.connected_apps[0]
    form = {
        "grant_type": "password",
        "client_id": app["consumer_key"],
        "client_secret": app["consumer_secret"],
        "username": user["username"],
        "password": user["password"] + user["security_token"],
    }
    resp = org.session().post(f"{org.instance_url}/services/oauth2/token", data=form)
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
    }
    assert body["token_type"] == "Bearer" and body["instance_url"] == org.instance_url
    assert org.sf(token=body["access_token"]).query("SELECT COUNT() FROM Lead")["totalSize"] == 1


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            {"password": "wrong"},
            {"error": "invalid_grant", "error_description": "authentication failure"},
        ),
        (
            {"username": "nobody@x"},
            {"error": "invalid_grant", "error_description": "authentication failure"},
        ),
        (
            {"client_id": "nope"},
            {"error": "invalid_client_id", "error_description": "client identifier invalid"},
        ),
        (
            {"client_secret": "nope"},
            {"error": "invalid_client", "error_description": "invalid client credentials"},
        ),
        (
            {"grant_type": "magic"},
            {"error": "unsupported_grant_type", "error_description": "grant type not supported"},
        ),
    ],
)
def test_oauth_failures(sf_factory, change, error):
    org = sf_factory(
        {
            "users": [{"username": "u@x.org", "password": "pw", "security_token": "TOK"}],
            "connected_apps": [{"consumer_key": "key", "consumer_secret": "secret"}],
        }
    )
    form = {
        "grant_type": "password",
        "client_id": "key",
        "client_secret": "secret",
        "username": "u@x.org",
        "password": "pwTOK",
    }
    assert (
        org.session().post(f"{org.instance_url}/services/oauth2/token", data=form).status_code
        == 200
    )
    resp = org.session().post(f"{org.instance_url}/services/oauth2/token", data={**form, **change})
    assert resp.status_code == 400 and resp.json() == error


def test_limit_header_and_request_limit_exceeded(sf_factory):
    org = sf_factory({"daily_api_limit": 3})
    sf = org.sf()
    sf.query("SELECT Id FROM Lead")
    assert sf.api_usage["api-usage"].used == 1 and sf.api_usage["api-usage"].total == 3
    sf.query("SELECT Id FROM Lead")
    sf.query("SELECT Id FROM Lead")
    with pytest.raises(SalesforceRefusedRequest) as err:
        sf.query("SELECT Id FROM Lead")
    assert err.value.status == 403
    assert err.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert org.control("limits", {"used": 0, "total": 10}).json() == {"used": 0, "total": 10}
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 10, "Remaining": 9}
    assert sf.api_usage["api-usage"].used == 1


def test_every_response_carries_the_limit_header(org):
    s = org.session()
    for resp in (
        s.get(
            f"{org.instance_url}/services/data/v59.0/sobjects",
            headers={"Authorization": f"Bearer {org.token}"},
        ),
        s.get(f"{org.instance_url}/services/data/v59.0/sobjects"),
        s.get(
            f"{org.instance_url}/services/data/v59.0/nothing-here",
            headers={"Authorization": f"Bearer {org.token}"},
        ),
    ):
        assert resp.headers["Sforce-Limit-Info"].startswith("api-usage=")
