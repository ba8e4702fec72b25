"""Shared fixtures for the config tests: a valid base config, distinctive env values, helpers."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import certifi
import pytest

# Distinctive values: tests grep every output for them; none may ever appear.
SECRETS = {
    "SF_ACCESS_TOKEN": "00Dsecret-TOKEN-q9z7",
    "DD_UK_USERNAME": "apiuser-SECRET-u4k2@apiconnector.com",
    "DD_UK_PASSWORD": "pw-SECRET-x81!",
}
ENV = {
    "SF_INSTANCE_URL": "https://127.0.0.1:8443",
    "SF_CA_BUNDLE": certifi.where(),  # a real PEM bundle: validate checks the file (LS030)
    "DD_UK_ENDPOINT": "http://127.0.0.1:9001",
    **SECRETS,
}

BASE = """\
version: 1
state:
  backend: sqlite
  path: .leadsync/state.db
salesforce:
  instance_url: ${SF_INSTANCE_URL}
  auth:
    access_token: ${SF_ACCESS_TOKEN}
  ca_bundle: ${SF_CA_BUNDLE:-}
  api_version: "61.0"
defaults:
  lead_status: New
  campaign_member_status: Sent
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
      - {salesforce: LastName,  datafield: LASTNAME,  direction: dotdigital-to-salesforce}
      - {salesforce: Company,   datafield: COMPANY,   direction: two-way}
    address_books:
      - name: Webinar signups
        create_leads: true
        campaign: Spring Webinar 2026
"""

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env() -> dict[str, str]:
    return dict(ENV)


@pytest.fixture
def base() -> str:
    return BASE


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], str]:
    """Write YAML text to a fresh file and return its path."""
    counter = iter(range(1_000_000))

    def _write(text: str, name: str | None = None) -> str:
        path = tmp_path / (name or f"leadsync-{next(counter)}.yaml")
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return str(path)

    return _write


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing `needle` (tests say where, not a magic number)."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == nth:
                return number
    raise AssertionError(f"{needle!r} not in text")


def col_of(text: str, needle: str, nth: int = 1) -> int:
    line = text.splitlines()[line_of(text, needle, nth) - 1]
    return line.index(needle) + 1


@pytest.fixture
def where() -> tuple[Callable[..., int], Callable[..., int]]:
    return line_of, col_of


@pytest.fixture
def secret_values() -> list[str]:
    return list(SECRETS.values())
