"""apply: make it so. Idempotent remote actions, then the new state in ONE transaction.

Order matters for crash safety. Remote actions (create a datafield, a CampaignMemberStatus) are
each checked before they are done and treat "already exists" as done, so a crash after any of
them followed by another apply converges. Only then are the state (serial + 1), the history row,
the baseline ledger rows and the watermarks committed together: a crash before that commit
leaves the previous state untouched, a crash after it leaves nothing to redo.

`apply PLANFILE` executes exactly the saved plan or refuses it (docs/ARCHITECTURE.md, invariant 2): the state's lineage
and serial, the config file's sha256, what the config resolves to (environment included), the
observed schema fingerprints and the planned changes must all be what the plan was made from.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leadsync.applied import AppliedBook, AppliedIntegration, snapshot
from leadsync.config import config_dir
from leadsync.config.model import Config
from leadsync.dotdigital.errors import DotdigitalError
from leadsync.emails import normalise_email
from leadsync.errors import LeadsyncError, RemoteError
from leadsync.reconcile import planfile
from leadsync.reconcile.diff import diff
from leadsync.reconcile.model import Plan, ResourceChange
from leadsync.reconcile.observed import Observed
from leadsync.reconcile.provenance import GitCommit, ci_identity, git_commit
from leadsync.reconcile.refresh import Systems
from leadsync.reconcile.session import (
    load_config,
    make_plan,
    new_salt,
    read_applied,
    writing_store,
)
from leadsync.state.model import AppliedState, HistoryEntry, LedgerEntry, StateStore

NON_UNIQUE_DATAFIELD = "ERROR_NON_UNIQUE_DATAFIELD"


class PlanRefused(LeadsyncError):
    """A saved plan no longer describes the work (stale, other lineage, changed config/systems)."""


class ApplyRefused(LeadsyncError):
    """apply cannot go ahead (no confirmation possible, user declined, plan has errors)."""


@dataclass
class ApplyResult:
    applied: bool  # False when there was nothing to do or the user declined
    plan: Plan
    serial: int | None = None
    lineage: str | None = None
    remote_done: list[str] = field(default_factory=list)
    baseline: dict[str, int] = field(default_factory=dict)  # address -> members recorded
    warnings: list[str] = field(default_factory=list)  # one line each, for stderr


@dataclass
class Prompt:
    """How apply talks to a person: show the plan, ask. The CLI supplies click-based ones."""

    show: Callable[[Plan], None]
    confirm: Callable[[str], bool]
    interactive: bool


def apply_command(
    config_path: str,
    plan_path: str | None,
    *,
    auto_approve: bool,
    lock_timeout: float,
    prompt: Prompt,
) -> ApplyResult:
    """Plan afresh (or check the saved plan), confirm, execute.

    Confirmation is needed only when there is something to apply: a CI job without a terminal
    that finds nothing to change exits 0 ("No changes") without --auto-approve.
    """
    saved = planfile.load(plan_path) if plan_path is not None else None
    loaded = load_config(config_path)
    config = loaded.config
    if saved is not None:
        _check_saved_config(saved, config, plan_path or "")
    applied = read_applied(config)
    if saved is not None:
        _check_saved_state(saved, applied)
    systems = Systems(config)
    salt = applied.salt if applied is not None else new_salt()
    plan, observed = make_plan(config, applied, systems, salt=salt)
    if plan.has_errors:
        lines = "\n".join(d.format() for d in plan.errors)
        raise ApplyRefused(f"the plan has errors; nothing was applied\n{lines}")
    if saved is not None:
        _check_saved_against_fresh(saved, plan)
    if not plan.has_changes:
        return ApplyResult(False, plan)  # nothing to confirm: CI without a terminal exits 0
    if saved is None and not auto_approve and not prompt.interactive:
        raise ApplyRefused(
            "apply needs a confirmation, but this is not a terminal: pass --auto-approve, or save "
            "a reviewed plan with `leadsync plan --out FILE` and run `leadsync apply FILE`"
        )
    with writing_store(config) as store:
        names = ["apply", *(f"account:{n}" for n in _account_names(config, applied))]
        with store.lock(names, timeout=lock_timeout, purpose="apply"):
            current = store.read_applied()
            if _identity(current) != _identity(applied):
                if saved is not None:
                    _check_saved_state(saved, current)
                # Another apply won the race while we planned: plan again under the lock.
                applied = current
                salt = applied.salt if applied is not None else salt
                plan, observed = make_plan(config, applied, systems, salt=salt)
                if plan.has_errors:
                    lines = "\n".join(d.format() for d in plan.errors)
                    raise ApplyRefused(f"the plan has errors; nothing was applied\n{lines}")
                if not plan.has_changes:
                    return ApplyResult(False, plan)
            if saved is None:
                prompt.show(plan)
                if not auto_approve and not prompt.confirm(
                    "Do you want to perform these actions? leadsync will apply the plan above."
                ):
                    raise ApplyRefused("apply cancelled: nothing was changed")
            return execute(plan, config, applied, observed, systems, store, salt=salt)


def _account_names(config: Config, applied: AppliedState | None) -> list[str]:
    names = set(config.accounts)
    if applied is not None:
        names |= set(AppliedIntegration.from_json(applied.resolved).accounts)
    return sorted(names)


def _identity(state: AppliedState | None) -> tuple[str, int] | None:
    return (state.lineage, state.serial) if state is not None else None


# --- saved plan checks -----------------------------------------------------------------------


def _check_saved_config(saved: Plan, config: Config, plan_path: str) -> None:
    if saved.config_sha256 != config.source_sha256:
        raise PlanRefused(
            f"saved plan {plan_path} was made from a different {config.source} "
            f"(sha256 {saved.config_sha256[:12]}..., the file is now {config.source_sha256[:12]}...): "
            "run `leadsync plan --out` again"
        )


def _check_saved_state(saved: Plan, applied: AppliedState | None) -> None:
    if saved.prior is None and applied is None:
        return
    if saved.prior is None:
        assert applied is not None
        raise PlanRefused(
            f"saved plan is stale: it was made before the first apply, the state is now at serial "
            f"{applied.serial} (lineage {applied.lineage}); run `leadsync plan --out` again"
        )
    if applied is None:
        raise PlanRefused(
            f"saved plan does not match the state: it was made against lineage "
            f"{saved.prior.lineage} serial {saved.prior.serial}, but there is no applied state"
        )
    if applied.lineage != saved.prior.lineage:
        raise PlanRefused(
            f"saved plan does not match the state: it was made against lineage "
            f"{saved.prior.lineage}, the state has lineage {applied.lineage}"
        )
    if applied.serial != saved.prior.serial:
        raise PlanRefused(
            f"saved plan is stale: it was made against serial {saved.prior.serial}, the state is "
            f"now at serial {applied.serial}; run `leadsync plan --out` again"
        )


def _check_saved_against_fresh(saved: Plan, fresh: Plan) -> None:
    if saved.desired_digest != fresh.desired_digest:
        raise PlanRefused(
            "saved plan is stale: what leadsync.yaml resolves to changed since the plan was made "
            "(an environment variable or a value resolved from the live systems); run "
            "`leadsync plan --out` again"
        )
    changed = sorted(
        k
        for k in set(saved.fingerprints) | set(fresh.fingerprints)
        if saved.fingerprints.get(k) != fresh.fingerprints.get(k)
    )
    if changed:
        raise PlanRefused(
            "saved plan is stale: the live systems changed since the plan was made "
            f"({', '.join(changed)}); run `leadsync plan --out` again"
        )
    if saved.comparable() != fresh.comparable():
        raise PlanRefused(
            "saved plan no longer matches what apply would do; run `leadsync plan --out` again"
        )


# --- execution --------------------------------------------------------------------------------


def execute(
    plan: Plan,
    config: Config,
    applied: AppliedState | None,
    observed: Observed,
    systems: Systems,
    store: StateStore,
    *,
    salt: str,
) -> ApplyResult:
    done: list[str] = []
    for change in plan.remote_actions():
        observed = _ensure(change, observed, systems)
        done.append(change.address)
    final = diff(config, applied, observed, salt=salt)
    if final.has_errors or final.remote_actions() or final.integration is None:
        left = ", ".join(c.address for c in final.remote_actions()) or final.errors[0].message
        raise RemoteError(
            "leadsync", f"the remote actions did not converge ({left}); run apply again"
        )
    before = AppliedIntegration.from_json(applied.resolved) if applied is not None else None
    starting = _books_starting(before, final.integration)
    watermarks: dict[tuple[str, int], str] = {}
    for account, book in starting:
        if not book.backfill and book.id is not None:
            # Server time BEFORE reading the members: whoever joins after this instant is new.
            now = systems.dotdigital(account).server_time()
            watermarks[(account, book.id)] = now.astimezone(UTC).isoformat()
    counts: dict[str, int] = {}
    new = _new_state(config, applied, final, salt)
    directory = str(config_dir(config.source))
    git = git_commit(directory)
    store.commit_apply(
        new,
        _history_entry(plan, config, new, git),
        expected_lineage=applied.lineage if applied is not None else None,
        expected_serial=applied.serial if applied is not None else 0,
        baseline=_baseline(systems, starting, watermarks, counts),
        watermarks=watermarks,
        release_baseline=_books_backfilling(before, final.integration),
    )
    for (account, book_id), mark in watermarks.items():
        # The baseline read every member: it counts as the book's first membership sweep
        # (sync/engine.py). Lost in a crash right here, the first sync simply sweeps.
        store.set_last_sweep(account, book_id, mark)
    warning = git.warning(directory)
    return ApplyResult(
        True, plan, new.serial, new.lineage, done, counts, [warning] if warning else []
    )


def _new_state(
    config: Config, applied: AppliedState | None, final: Plan, salt: str
) -> AppliedState:
    """The state this apply commits: serial + 1, both applied documents (leadsync.applied)."""
    return AppliedState(
        lineage=applied.lineage if applied is not None else _new_lineage(),
        serial=(applied.serial if applied is not None else 0) + 1,
        config=snapshot(config, salt),
        resolved=final.resolved,
        fingerprints=final.fingerprints,
        config_sha256=config.source_sha256,
        applied_at=datetime.now(UTC).isoformat(timespec="seconds"),
        applied_by=_os_user(),
        salt=salt,
    )


def _history_entry(plan: Plan, config: Config, new: AppliedState, git: GitCommit) -> HistoryEntry:
    return HistoryEntry(
        serial=new.serial,
        lineage=new.lineage,
        applied_at=new.applied_at,
        applied_by=new.applied_by,
        host=socket.gethostname(),
        git_commit=git.commit,
        config_sha256=config.source_sha256,
        summary=plan.summary(),
        ci=ci_identity(os.environ),
        git_error=git.problem,
    )


def _ensure(change: ResourceChange, observed: Observed, systems: Systems) -> Observed:
    after: dict[str, Any] = change.after or {}
    if change.kind == "datafield":
        account = change.account or ""
        if observed.accounts[account].datafield(after["name"]) is not None:
            return observed
        try:
            created = systems.dotdigital(account).create_datafield(after["name"], after["type"])
        except DotdigitalError as exc:
            if exc.code != NON_UNIQUE_DATAFIELD and NON_UNIQUE_DATAFIELD not in str(exc):
                raise
            from leadsync.dotdigital.model import DataField

            created = DataField(after["name"], after["type"], "Private", None)
        return observed.with_datafield(account, created)
    if change.kind == "member_status":
        cid, label = after["campaign_id"], after["label"]
        camp = observed.campaign_by_id(cid)
        if camp is not None and label in camp.statuses:
            return observed
        sf = systems.salesforce
        if label in sf.campaign_member_statuses([cid]).get(cid, []):  # check first: idempotent
            return observed.with_member_status(cid, label)
        result = sf.create(
            "CampaignMemberStatus", [{"CampaignId": cid, "Label": label, "HasResponded": False}]
        )[0]
        if not result.success and not any(
            e.status_code == "DUPLICATE_VALUE" for e in result.errors
        ):
            err = result.errors[0] if result.errors else None
            detail = f"{err.status_code}: {err.message}" if err else "unknown error"
            raise RemoteError(
                "Salesforce",
                f"creating CampaignMemberStatus {label!r} for campaign {cid} failed: {detail}",
            )
        return observed.with_member_status(cid, label)
    return observed


def _books_starting(
    applied: AppliedIntegration | None, desired: AppliedIntegration
) -> list[tuple[str, AppliedBook]]:
    """Books that start creating leads with this apply (new, re-enabled, or resolved to a new id)."""
    was = {
        (name, book.id)
        for name, book in (applied.books() if applied is not None else ())
        if book.create_leads and book.id is not None
    }
    return [
        (name, book)
        for name, book in desired.books()
        if book.create_leads and book.id is not None and (name, book.id) not in was
    ]


def _books_backfilling(
    applied: AppliedIntegration | None, desired: AppliedIntegration
) -> list[tuple[str, int]]:
    """Books whose baseline is released by this apply: `backfill: true` on a create_leads book
    that did not have it (set after the first apply, or create_leads turned on again with it).
    The user's intent is plain: the members recorded as baseline become Leads after all."""
    was = {
        (name, book.id): book.backfill
        for name, book in (applied.books() if applied is not None else ())
        if book.create_leads and book.id is not None
    }
    return [
        (name, book.id)
        for name, book in desired.books()
        if book.create_leads
        and book.backfill
        and book.id is not None
        and was.get((name, book.id)) is not True
    ]


def _baseline(
    systems: Systems,
    starting: list[tuple[str, AppliedBook]],
    watermarks: dict[tuple[str, int], str],
    counts: dict[str, int],
) -> Iterator[LedgerEntry]:
    """Stream the current members of each starting book (without backfill) as ledger rows.

    A generator consumed inside commit_apply's transaction: memory stays flat for any book size,
    and an API error while reading rolls the whole apply back.
    """
    for account, book in starting:
        if book.id is None or (account, book.id) not in watermarks:
            continue  # backfill: the first sync takes everyone
        address = f'account.{account}.address_book["{book.name}"]'
        counts[address] = 0
        for page in systems.dotdigital(account).book_members(book.id):
            for contact in page:
                counts[address] += 1
                yield LedgerEntry(
                    account=account,
                    book_id=book.id,
                    contact_id=int(contact.id),
                    email=normalise_email(contact.email),
                    state="baseline",
                    reason_code="BASELINE",
                    reason="member before create_leads was applied (backfill: false)",
                )


def _new_lineage() -> str:
    import uuid

    return str(uuid.uuid4())


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"
