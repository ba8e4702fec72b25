"""`leadsync init`: write a leadsync.yaml from what Dotdigital and Salesforce already hold.

The shell around the pure parts: check the environment (environment.py), open the same
connections the file will name by loading its connection part through the config loader (so
URLs, auth forms and the CA bundle are checked exactly as `validate` checks them), read the
live systems (inventory.py, reads only), propose (mapping.py, books.py), render (render.py),
check the result as `validate` would, then write it: all or nothing, and never over an
existing file without --force.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from leadsync.config import codes
from leadsync.config.loader import load_text
from leadsync.config.model import Config
from leadsync.dotdigital.client import V2_PAGE
from leadsync.errors import ConfigError, LeadsyncError, UsageError
from leadsync.init import books as book_proposal
from leadsync.init import mapping as mapping_proposal
from leadsync.init.environment import (
    CA_BUNDLE_VAR,
    STATE_DSN_VAR,
    AccountVars,
    SalesforceVars,
    check,
    ref,
)
from leadsync.init.inventory import MAX_BOOK_PAGES, Inventory, read
from leadsync.init.render import AccountSpec, FileSpec, render, scalar
from leadsync.reconcile.refresh import Systems
from leadsync.views import Outcome
from leadsync.wording import plural

STDOUT = "-"
MEMBER_STATUS = "Sent"  # the campaign member status leadsync gives (README, defaults)


def run(
    out: str,
    *,
    accounts: Sequence[str] = (),
    force: bool = False,
    state: str = "sqlite",
    env: Mapping[str, str] | None = None,
) -> Outcome:
    environ = os.environ if env is None else env
    target = None if out == STDOUT else Path(out)
    if target is not None:
        _check_target(target, force)
    sf_vars, acct_vars = check(accounts, environ)
    config = _connections(sf_vars, acct_vars, out if target else "leadsync.yaml", environ)
    systems = Systems(config)
    inventory = read(systems, [a.name for a in acct_vars])
    spec = _spec(inventory, sf_vars, acct_vars, state, config.salesforce.api_version)
    text = render(spec)
    _self_check(text, spec)
    summary = _summary(spec, systems.calls(), target)
    if target is None:
        return Outcome(text, summary)
    _write(target, text, force)
    return Outcome("", summary)


def _check_target(target: Path, force: bool) -> None:
    if target.is_dir():
        raise UsageError(f"--out {target}: is a directory; name the file to write")
    if target.exists() and not force:
        raise UsageError(f"{target} exists; pass --force to replace it (or --out another file)")
    if not target.parent.is_dir():
        raise UsageError(f"--out {target}: directory {target.parent} does not exist")


def _skeleton(sf: SalesforceVars, accounts: Sequence[AccountVars]) -> str:
    """The connection part of the file to be written: the same `${VAR}` references."""
    lines = ["version: 1", "salesforce:", f"  instance_url: {ref('SF_INSTANCE_URL')}", "  auth:"]
    lines += [f"    {key}: {ref(var)}" for key, var in sf.auth]
    if sf.ca_bundle:
        lines.append(f"  ca_bundle: {ref(CA_BUNDLE_VAR, '')}")
    lines.append("accounts:")
    for a in accounts:
        lines += [
            f"  {scalar(a.name)}:",
            "    dotdigital:",
            f"      {a.location_key}: {ref(a.location)}",
            f"      username: {ref(a.username)}",
            f"      password: {ref(a.password)}",
        ]
    return "\n".join(lines) + "\n"


def _connections(
    sf: SalesforceVars, accounts: Sequence[AccountVars], source: str, env: Mapping[str, str]
) -> Config:
    """The typed connections, or one line per problem naming the variable (never its value)."""
    text = _skeleton(sf, accounts)
    result = load_text(text, source, env)
    if result.config is not None:
        return result.config
    names = dict(_paths(sf, accounts))
    errors = [d for d in result.diagnostics if d.severity == "error"]
    lines = [f"{_variable(names, d.path)}: {d.message}" for d in errors]
    raise ConfigError("the environment cannot be used: " + "; ".join(lines))


def _paths(sf: SalesforceVars, accounts: Sequence[AccountVars]) -> list[tuple[str, str]]:
    pairs = [("salesforce.instance_url", "SF_INSTANCE_URL")]
    pairs += [(f"salesforce.auth.{key}", var) for key, var in sf.auth]
    pairs.append(("salesforce.ca_bundle", CA_BUNDLE_VAR))
    for a in accounts:
        base = f"accounts.{a.name}.dotdigital"
        pairs += [(f"{base}.{a.location_key}", a.location), (f"{base}.username", a.username)]
        pairs.append((f"{base}.password", a.password))
    return pairs


def _variable(names: dict[str, str], path: str) -> str:
    probe = path
    while probe and probe not in names:
        probe = probe.rpartition(".")[0]
    return names.get(probe, path or "the environment")


def _spec(
    inventory: Inventory,
    sf: SalesforceVars,
    accounts: Sequence[AccountVars],
    state: str,
    api_version: str,
) -> FileSpec:
    specs = []
    for facts, acct in zip(inventory.accounts, accounts, strict=True):
        specs.append(
            AccountSpec(
                acct,
                mapping_proposal.propose(inventory.lead, facts.datafields),
                book_proposal.propose(facts.books, inventory.campaigns, MEMBER_STATUS),
                facts.books_capped,
                MAX_BOOK_PAGES * V2_PAGE,
            )
        )
    status = inventory.default_lead_status()
    return FileSpec(
        state,
        sf,
        api_version,
        status.api_name if status is not None else None,
        MEMBER_STATUS,
        tuple(specs),
    )


def _self_check(text: str, spec: FileSpec) -> None:
    """The file must load as `validate` loads it, with LS110 (TODO rows) its only errors.

    Checked with placeholder values for every variable, so the result depends on the file
    alone; anything else is a bug in init, and then nothing is written.
    """
    placeholders = {name: "https://placeholder.invalid" for name in _url_vars(spec)}
    for name in _secret_like_vars(spec):
        placeholders.setdefault(name, "placeholder")
    for a in spec.accounts:
        if a.vars.location_key == "region":
            placeholders[a.vars.location] = "r1"
    result = load_text(text, "leadsync.yaml", placeholders)
    wrong = [
        d
        for d in result.diagnostics
        if d.severity == "error" and d.code != codes.UNDECIDED_DATAFIELD
    ]
    todo = sum(d.code == codes.UNDECIDED_DATAFIELD for d in result.diagnostics)
    if wrong or todo != spec.undecided:
        found = "; ".join(d.format() for d in wrong)
        found = found or f"{todo} {codes.UNDECIDED_DATAFIELD} for {spec.undecided} TODO"
        raise LeadsyncError(f"internal error: init wrote a file validate refuses ({found})")


def _url_vars(spec: FileSpec) -> list[str]:
    names = ["SF_INSTANCE_URL", "SF_LOGIN_URL"]
    return names + [a.vars.location for a in spec.accounts if a.vars.location_key == "endpoint"]


def _secret_like_vars(spec: FileSpec) -> list[str]:
    names = [var for _, var in spec.salesforce.auth] + [STATE_DSN_VAR]
    for a in spec.accounts:
        names += [a.vars.username, a.vars.password]
    return names


def _summary(spec: FileSpec, calls: Mapping[str, int], target: Path | None) -> str:
    rows = sum(len(a.mapping.rows) for a in spec.accounts)
    books = sum(len(a.books.books) for a in spec.accounts)
    linked = sum(b.campaign is not None for a in spec.accounts for b in a.books.books)
    where = "leadsync.yaml on stdout" if target is None else f"Wrote {target}"
    lines = [
        f"{where}: {plural(len(spec.accounts), 'account')}, {plural(books, 'address book')} "
        f"({linked} linked to a Campaign), {plural(rows, 'mapping row')} "
        f"({spec.undecided} TODO); read with {plural(calls['dotdigital'], 'Dotdigital call')} "
        f"and {plural(calls['salesforce'], 'Salesforce call')}."
    ]
    if spec.undecided:
        lines.append(
            f"Next: name the datafield of the {plural(spec.undecided, 'TODO row')} "
            "(leadsync validate lists them), set create_leads: true on the books to sync, then "
            "leadsync plan."
        )
    else:
        lines.append("Next: set create_leads: true on the books to sync, then leadsync plan.")
    if spec.state == "postgres":
        lines.append(f"The state lives in PostgreSQL: set {STATE_DSN_VAR} before leadsync plan.")
    return "\n".join(lines) + "\n"


def _new_file_mode() -> int:
    """What open() would give a new file: 0o666 less the umask (mkstemp gives 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _write(target: Path, text: str, force: bool) -> None:
    """Whole file or nothing: a temp file beside the target, then linked (refusing an
    existing file, even one that appeared while init was reading) or, with --force, renamed."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _new_file_mode())
        if force:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise UsageError(
                    f"{target} exists; pass --force to replace it (or --out another file)"
                ) from None
    except OSError as exc:
        raise LeadsyncError(f"{target}: cannot write: {exc.strerror or exc}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
