"""`leadsync init` end to end: the real CLI as a subprocess against the emulators.

The seed is an org and an account a team would adopt leadsync from: a required restricted
picklist on Lead, a default Lead Status that is not "New", a Campaign named like a book, one
named like another book but for the letter case, and credentials distinctive enough that a
leak of any of them into the generated file or the output is found by a plain search.
"""

from __future__ import annotations

import copy
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SECRETS = {
    "access_token": "00DinitT0ken!AQ0-Distinct-acc3ss-7731",
    "dd_username": "apiuser-init-7731-distinct@apiconnector.com",
    "dd_password": "dd-Pa55-Distinct-7731",
    "sf_password": "sf-Pa55-Distinct-7731",
    "security_token": "SECTOK-Distinct-7731",
    "consumer_secret": "cs-Distinct-7731",
}


def init_seed(kit: Any) -> dict[str, Any]:
    """The org and account of the module docstring, a fresh copy; the Region picklist and the
    member already in the book are the sync tests' own (the `kit` fixture)."""
    seed: dict[str, Any] = {
        "dotdigital": {
            "accounts": [
                {
                    "name": "uk",
                    "username": SECRETS["dd_username"],
                    "password": SECRETS["dd_password"],
                    "datafields": [
                        {"name": "COMPANY", "type": "String"},
                        {"name": "REGION", "type": "String"},
                        {"name": "MOBILE_PHONE", "type": "String"},
                        {"name": "JOBTITLE", "type": "String"},
                        {"name": "SCORE", "type": "Numeric"},
                    ],
                    "address_books": [
                        {
                            "name": "Spring Webinar 2026",
                            "contacts": [kit.EXISTING_MEMBER],
                        },
                        {"name": "spring launch", "contacts": []},
                        {"name": "Promo ${HOME} list", "contacts": []},
                        {"name": "Newsletter", "contacts": []},
                    ],
                }
            ]
        },
        "salesforce": {
            "lead_statuses": ["Open - Not Contacted", "Working", "Closed - Converted"],
            "lead_fields": [kit.REGION_FIELD],
            "duplicate_rule_on_lead_email": False,
            "access_token": SECRETS["access_token"],
            "records": {"Campaign": [{"Name": "Spring Webinar 2026"}, {"Name": "Spring Launch"}]},
            "users": [
                {
                    "username": "integration@init.example",
                    "password": SECRETS["sf_password"],
                    "security_token": SECRETS["security_token"],
                }
            ],
            "connected_apps": [
                {"consumer_key": "init-consumer-key", "consumer_secret": SECRETS["consumer_secret"]}
            ],
        },
    }
    return copy.deepcopy(seed)


class InitWorkspace:
    """A directory, an emulator and an environment holding only what the user would export.

    Commands run through the sync tests' Workspace (the `kit` fixture): the same `leadsync`
    process, exit-code and no-traceback checks."""

    def __init__(self, cli: Any) -> None:
        self.cli = cli
        self.root: Path = cli.root
        self.emu = cli.emu
        keep = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SF_", "DD_", "LEADSYNC_", "REQUESTS_CA", "CURL_CA"))
        }
        self.env = cli.env = {**keep, **self.emu.env()}
        self.env.pop("SF_LOGIN_URL", None)  # only the password form needs it (password_auth)

    @property
    def config(self) -> Path:
        return self.root / "leadsync.yaml"

    def password_auth(self) -> None:
        """The environment of a team that logs in with a user, not a token."""
        self.env.pop("SF_ACCESS_TOKEN", None)
        self.env["SF_LOGIN_URL"] = self.emu.info["salesforce"]["login_url"]

    def run(self, *args: str, code: int | None = 0) -> subprocess.CompletedProcess:
        return self.cli.run(*args, check=None if code is None else (code,))

    def enable(self, book: str) -> None:
        """What the user does next: turn create_leads on for one book, by editing the file."""
        lines = self.config.read_text().split("\n")
        start = next(
            i for i, line in enumerate(lines) if line.lstrip().startswith(f"- name: {book}")
        )
        at = next(i for i in range(start, len(lines)) if "create_leads: false" in lines[i])
        lines[at] = lines[at].replace("create_leads: false", "create_leads: true")
        self.config.write_text("\n".join(lines))

    def requests(self, service: str) -> list[dict[str, Any]]:
        return self.emu.requests_log(service)["requests"]


@pytest.fixture
def seed(kit: Any) -> dict[str, Any]:
    return init_seed(kit)


@pytest.fixture
def init_workspace(
    tmp_path: Path, emulator_factory: Callable[..., Any], kit: Any
) -> Callable[..., InitWorkspace]:
    def make(seed: dict[str, Any] | None = None) -> InitWorkspace:
        emu = emulator_factory(seed or init_seed(kit))
        return InitWorkspace(kit.Workspace(tmp_path, emu))

    return make


@pytest.fixture
def secrets() -> dict[str, str]:
    return dict(SECRETS)
