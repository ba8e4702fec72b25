"""What the naive baselines (naive.py, naive_updates.py) share: the Dotdigital account and the
Salesforce connection, both from the environment variables leadsync.yaml reads. Like the
baselines, it shares no code with leadsync on purpose (they are the yardstick)."""

from __future__ import annotations

import os

import requests
from simple_salesforce import Salesforce


def dotdigital(account: str) -> tuple[str, tuple[str, str]]:
    """(endpoint without a trailing slash, Basic-auth pair) of DD_<ACCOUNT>_*."""
    prefix = f"DD_{account.upper()}_"
    endpoint = os.environ[prefix + "ENDPOINT"].rstrip("/")
    return endpoint, (os.environ[prefix + "USERNAME"], os.environ[prefix + "PASSWORD"])


def salesforce() -> Salesforce:
    """Unmodified simple-salesforce on SF_INSTANCE_URL with SF_ACCESS_TOKEN, trusting exactly
    SF_CA_BUNDLE (trust_env off, so REQUESTS_CA_BUNDLE cannot override it)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = os.environ["SF_CA_BUNDLE"]
    return Salesforce(
        instance_url=os.environ["SF_INSTANCE_URL"],
        session_id=os.environ["SF_ACCESS_TOKEN"],
        session=session,
        version="61.0",
    )
