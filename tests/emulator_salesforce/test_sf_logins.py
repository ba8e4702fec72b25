"""Every login an unmodified simple-salesforce can do, against the emulator: the SOAP partner
login (username + password + security token, or organizationId), the OAuth 2.0 JWT bearer flow
and the client credentials flow, with the answers Salesforce gives when they are refused."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce, SalesforceAuthenticationFailed

USER = {"username": "api@acme.example", "password": "s3cret&<pw>", "security_token": "TOK123"}
IP_USER = {"username": "office@acme.example", "password": "office-pw"}  # trusted IP: no token


@pytest.fixture
def seed(app_keys) -> dict:
    return {
        "users": [USER, IP_USER],
        "connected_apps": [
            {
                "consumer_key": "ck-jwt",
                "consumer_secret": "cs-jwt",
                "certificate": app_keys.certificate_pem,
                "client_credentials_user": USER["username"],
            },
            {"consumer_key": "ck-plain", "consumer_secret": "cs-plain"},
        ],
        "records": {"Lead": [{"LastName": "Seeded", "Company": "Acme"}]},
    }


def _lead_count(sf: Salesforce) -> int:
    return sf.query("SELECT COUNT() FROM Lead")["totalSize"]


def test_soap_login_with_security_token(sf_factory, seed):
    org = sf_factory(seed)
    sf = Salesforce(
        username=USER["username"],
        password=USER["password"],
        security_token=USER["security_token"],
        session=org.login_session(),
    )
    assert sf.sf_instance == org.instance_url.removeprefix("https://")
    assert _lead_count(sf) == 1


def test_soap_login_with_organization_id(sf_factory, seed):
    org = sf_factory(seed)
    sf = Salesforce(
        username=IP_USER["username"],
        password=IP_USER["password"],
        organizationId=org.backend.org_id[:15],
        session=org.login_session(),
    )
    assert _lead_count(sf) == 1
    with pytest.raises(SalesforceAuthenticationFailed) as err:
        Salesforce(
            username=IP_USER["username"],
            password=IP_USER["password"],
            organizationId="00D000000000001",
            session=org.login_session(),
        )
    assert err.value.code == "INVALID_LOGIN"


@pytest.mark.parametrize(
    "change",
    [{"password": "wrong"}, {"security_token": "OLD"}, {"username": "nobody@acme.example"}],
)
def test_soap_login_refused_is_invalid_login(sf_factory, seed, change):
    org = sf_factory(seed)
    creds = {**USER, **change}
    with pytest.raises(SalesforceAuthenticationFailed) as err:
        Salesforce(**creds, session=org.login_session())
    assert err.value.code == "INVALID_LOGIN"
    assert (
        err.value.auth_message == "Invalid username, password, security token; or user locked out."
    )


def test_soap_fault_shape(sf_factory, seed):
    org = sf_factory(seed)
    resp = org.session().post(
        f"{org.instance_url}/services/Soap/u/61.0",
        data="<not-soap/>",
        headers={"content-type": "text/xml", "SOAPAction": "login"},
    )
    assert resp.status_code == 500 and resp.headers["Content-Type"].startswith("text/xml")
    assert "<faultcode>" in resp.text


def test_jwt_bearer_login(sf_factory, seed, app_keys):
    org = sf_factory(seed)
    sf = Salesforce(
        username=USER["username"],
        consumer_key="ck-jwt",
        privatekey=app_keys.private_pem,
        session=org.login_session(),
    )
    assert _lead_count(sf) == 1


def _jwt_refusal(org, **kwargs) -> tuple[object, str]:
    args = {"username": USER["username"], "consumer_key": "ck-jwt", **kwargs}
    with pytest.raises(SalesforceAuthenticationFailed) as err:
        Salesforce(session=org.login_session(), **args)
    return err.value.code, err.value.auth_message


def test_jwt_signed_with_another_key_is_invalid_assertion(sf_factory, seed, other_keys):
    org = sf_factory(seed)
    assert _jwt_refusal(org, privatekey=other_keys.private_pem) == (
        "invalid_grant",
        "invalid assertion",
    )


def test_jwt_for_an_app_without_certificate_is_invalid_assertion(sf_factory, seed, app_keys):
    org = sf_factory(seed)
    refused = _jwt_refusal(org, consumer_key="ck-plain", privatekey=app_keys.private_pem)
    assert refused == ("invalid_grant", "invalid assertion")


def test_jwt_wrong_audience(sf_factory, seed, app_keys):
    """simple-salesforce's domain="test" signs aud https://test.salesforce.com: a production
    org refuses it; the same org seeded as a sandbox accepts it and refuses login's."""
    org = sf_factory(seed)
    refused = _jwt_refusal(org, privatekey=app_keys.private_pem, domain="test")
    assert refused == ("invalid_grant", "audience is invalid")
    sandbox = sf_factory({**seed, "sandbox": True})
    sf = Salesforce(
        username=USER["username"],
        consumer_key="ck-jwt",
        privatekey=app_keys.private_pem,
        domain="test",
        session=sandbox.login_session(),
    )
    assert _lead_count(sf) == 1
    assert _jwt_refusal(sandbox, privatekey=app_keys.private_pem)[1] == "audience is invalid"


def test_jwt_expired_assertion(sf_factory, seed, app_keys):
    """simple-salesforce's assertion lives 3 minutes; the org's clock runs 10 minutes ahead."""
    org = sf_factory(seed)
    assert org.control("clock", {"offset_seconds": 600}).json()["offset_seconds"] == 600
    refused = _jwt_refusal(org, privatekey=app_keys.private_pem)
    assert refused == ("invalid_grant", "expired authorization code")


def test_jwt_unknown_user_and_unknown_app(sf_factory, seed, app_keys):
    org = sf_factory(seed)
    with pytest.warns(UserWarning, match="authorize this"):  # simple-salesforce's own hint
        refused = _jwt_refusal(org, privatekey=app_keys.private_pem, username="ghost@acme.example")
    assert refused == ("invalid_grant", "user hasn't approved this consumer")
    refused = _jwt_refusal(org, privatekey=app_keys.private_pem, consumer_key="nope")
    assert refused == ("invalid_client_id", "client identifier invalid")


def test_jwt_garbage_assertion(sf_factory, seed):
    org = sf_factory(seed)
    resp = org.session().post(
        f"{org.instance_url}/services/oauth2/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x.y"},
    )
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}


def test_client_credentials_flow(sf_factory, seed):
    """simple-salesforce sends the app's key and secret as HTTP Basic auth to a My Domain."""
    org = sf_factory(seed)
    sf = Salesforce(
        consumer_key="ck-jwt",
        consumer_secret="cs-jwt",
        domain="acme.my",
        session=org.login_session(),
    )
    assert _lead_count(sf) == 1


@pytest.mark.parametrize(
    ("key", "secret", "answer"),
    [
        ("ck-jwt", "wrong", ("invalid_client", "invalid client credentials")),
        ("ck-plain", "cs-plain", ("invalid_grant", "no client credentials user enabled")),
        ("unknown", "cs-jwt", ("invalid_client_id", "client identifier invalid")),
    ],
)
def test_client_credentials_refused(sf_factory, seed, key, secret, answer):
    org = sf_factory(seed)
    with pytest.raises(SalesforceAuthenticationFailed) as err:
        Salesforce(
            consumer_key=key,
            consumer_secret=secret,
            domain="acme.my",
            session=org.login_session(),
        )
    assert (err.value.code, err.value.auth_message) == answer


def test_each_login_issues_a_token_that_expire_token_revokes(sf_factory, seed):
    org = sf_factory(seed)
    sf = Salesforce(**USER, session=org.login_session())
    assert _lead_count(sf) == 1
    org.control("expire-token")
    # simple-salesforce's SOAP session re-logs in on INVALID_SESSION_ID: the query still works
    assert _lead_count(sf) == 1
