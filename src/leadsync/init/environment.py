"""Which environment variables `leadsync init` connects with, and will reference in the file.

One home for the variable names: the connections init opens and the `${VAR}` references it
writes are the same names, so a file that `init` wrote from an environment also loads in that
environment. Pure: reads a mapping (os.environ in the CLI), never a value into the output.

Salesforce auth forms, first complete one wins (the file names it and says why):
  SF_ACCESS_TOKEN | SF_USERNAME + SF_CONSUMER_KEY + SF_PRIVATE_KEY_FILE (JWT)
  | SF_USERNAME + SF_PASSWORD (+ SF_SECURITY_TOKEN, SF_CONSUMER_KEY + SF_CONSUMER_SECRET)
with SF_DOMAIN and SF_LOGIN_URL taken along when set. Per Dotdigital account NAME:
DD_<NAME>_ENDPOINT (or DD_<NAME>_REGION), DD_<NAME>_USERNAME, DD_<NAME>_PASSWORD.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from leadsync.errors import ConfigError, UsageError
from leadsync.wording import join_and

ACCOUNT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")  # the schema's accounts key
_ACCOUNT_USER_VAR = re.compile(r"^DD_([A-Z][A-Z0-9_]*)_USERNAME$")
CA_BUNDLE_VAR = "SF_CA_BUNDLE"
STATE_DSN_VAR = "LEADSYNC_STATE_DSN"
AUTH_FORMS = (
    "SF_ACCESS_TOKEN, or SF_USERNAME and SF_PASSWORD (and SF_SECURITY_TOKEN), or SF_USERNAME, "
    "SF_CONSUMER_KEY and SF_PRIVATE_KEY_FILE"
)


def ref(var: str, default: str | None = None) -> str:
    return f"${{{var}}}" if default is None else f"${{{var}:-{default}}}"


@dataclass(frozen=True, slots=True)
class SalesforceVars:
    form: str  # access_token | password | jwt
    auth: tuple[tuple[str, str], ...]  # (auth key, variable), in the schema's order
    why: str  # which variables chose the form, for a comment in the file
    ca_bundle: bool  # SF_CA_BUNDLE was set: write ca_bundle: ${SF_CA_BUNDLE:-}

    @property
    def names(self) -> list[str]:
        return ["SF_INSTANCE_URL", *(var for _, var in self.auth)]


@dataclass(frozen=True, slots=True)
class AccountVars:
    name: str  # the account's key in leadsync.yaml
    location_key: str  # endpoint | region
    location: str  # DD_<NAME>_ENDPOINT or DD_<NAME>_REGION
    username: str
    password: str

    @property
    def names(self) -> list[str]:
        return [self.location, self.username, self.password]


def env_prefix(account: str) -> str:
    """DD_<NAME>_ with NAME upper-cased and anything but letters and digits as '_'."""
    return "DD_" + re.sub(r"[^A-Za-z0-9]", "_", account).upper() + "_"


def salesforce_vars(env: Mapping[str, str]) -> SalesforceVars:
    """The auth form the environment supplies, or ConfigError naming what is missing."""
    missing = [] if env.get("SF_INSTANCE_URL") else ["SF_INSTANCE_URL"]
    has = {name for name, value in env.items() if name.startswith("SF_") and value != ""}
    extras = [("domain", "SF_DOMAIN"), ("login_url", "SF_LOGIN_URL")]
    extras = [(key, var) for key, var in extras if var in has]
    if "SF_ACCESS_TOKEN" in has:
        form, auth = "access_token", [("access_token", "SF_ACCESS_TOKEN")]
        why = "SF_ACCESS_TOKEN is set"
    elif "SF_PRIVATE_KEY_FILE" in has:
        form, why = "jwt", "SF_PRIVATE_KEY_FILE is set (JWT bearer)"
        auth = [("username", "SF_USERNAME"), ("consumer_key", "SF_CONSUMER_KEY")]
        missing += [var for _, var in auth if var not in has]
        auth += [("private_key_file", "SF_PRIVATE_KEY_FILE"), *extras]
    elif {"SF_USERNAME", "SF_PASSWORD"} & has:
        form, why = "password", "SF_USERNAME and SF_PASSWORD are set"
        auth = [("username", "SF_USERNAME"), ("password", "SF_PASSWORD")]
        missing += [var for _, var in auth if var not in has]
        if "SF_SECURITY_TOKEN" in has:
            auth.append(("security_token", "SF_SECURITY_TOKEN"))
        if {"SF_CONSUMER_KEY", "SF_CONSUMER_SECRET"} <= has:
            auth += [("consumer_key", "SF_CONSUMER_KEY"), ("consumer_secret", "SF_CONSUMER_SECRET")]
        auth += extras
    else:
        raise ConfigError(
            f"no Salesforce credentials in the environment: set {AUTH_FORMS}"
            + (" (and SF_INSTANCE_URL)" if missing else "")
        )
    if missing:
        raise ConfigError(f"{_not_set(missing)} (Salesforce, {form} login)")
    others = sorted(
        has & {"SF_ACCESS_TOKEN", "SF_PASSWORD", "SF_PRIVATE_KEY_FILE"} - set(_vars(auth))
    )
    if others:
        why += f"; also set, not used: {join_and(others)}"
    return SalesforceVars(form, tuple(auth), why, CA_BUNDLE_VAR in has)


def account_vars(name: str, env: Mapping[str, str]) -> AccountVars:
    prefix = env_prefix(name)
    endpoint, region = prefix + "ENDPOINT", prefix + "REGION"
    if env.get(endpoint) or not env.get(region):
        location_key, location = "endpoint", endpoint  # endpoint wins: the more specific
    else:
        location_key, location = "region", region
    found = AccountVars(name, location_key, location, prefix + "USERNAME", prefix + "PASSWORD")
    missing = [var for var in found.names if not env.get(var)]
    if len(missing) == len(found.names):
        raise ConfigError(
            f"no credentials for Dotdigital account {name!r} in the environment: set "
            f"{prefix}USERNAME, {prefix}PASSWORD and {endpoint} (or {region})"
        )
    if missing:
        shown = [f"{var} (or {region})" if var == endpoint else var for var in missing]
        raise ConfigError(f"{_not_set(shown)} (Dotdigital account {name!r})")
    return found


def account_names(given: Iterable[str], env: Mapping[str, str]) -> list[str]:
    """The accounts to write: those given (in order, once each), else every DD_<NAME>_USERNAME
    in the environment (NAME lower-cased, sorted)."""
    names = list(dict.fromkeys(given))
    if not names:
        found = (_ACCOUNT_USER_VAR.match(var) for var in env)
        names = sorted({m.group(1).lower() for m in found if m is not None})
        if not names:
            raise UsageError(
                "no Dotdigital account: pass --account NAME, with DD_NAME_USERNAME, "
                "DD_NAME_PASSWORD and DD_NAME_ENDPOINT (or DD_NAME_REGION) set"
            )
    for name in names:
        if not ACCOUNT_NAME.match(name):
            raise UsageError(
                f"--account {name!r}: an account name starts with a letter and has only "
                "letters, digits, '_' and '-' (at most 64)"
            )
    by_prefix: dict[str, str] = {}
    for name in names:
        other = by_prefix.setdefault(env_prefix(name), name)
        if other != name:
            raise UsageError(
                f"accounts {other!r} and {name!r} would both read {env_prefix(name)}* variables"
            )
    return names


def check(
    accounts: Iterable[str], env: Mapping[str, str]
) -> tuple[SalesforceVars, list[AccountVars]]:
    """Every variable init needs, or ONE ConfigError naming all that are missing (one line)."""
    problems: list[str] = []
    sf: SalesforceVars | None = None
    found: list[AccountVars] = []
    try:
        sf = salesforce_vars(env)
    except ConfigError as exc:
        problems.append(str(exc))
    for name in account_names(accounts, env):
        try:
            found.append(account_vars(name, env))
        except ConfigError as exc:
            problems.append(str(exc))
    if problems or sf is None:
        raise ConfigError("; ".join(problems))
    return sf, found


def _vars(pairs: Iterable[tuple[str, str]]) -> list[str]:
    return [var for _, var in pairs]


def _not_set(names: list[str]) -> str:
    return f"{join_and(names)} {'is' if len(names) == 1 else 'are'} not set"
