"""What the state store holds, and the interface every backend (sqlite, postgres) implements.

The store is the only durable memory of leadsync: the applied integration (serial + lineage, as
Terraform does), its history, the sync ledger (one row per address-book member ever seen) and
the run reports. Backends differ only in transport; behaviour is defined here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from leadsync.errors import LeadsyncError

LedgerStateName = Literal["created", "excluded", "skipped", "failed", "pending", "baseline"]


@dataclass(frozen=True, slots=True)
class AppliedState:
    lineage: (
        str  # uuid4, fixed when the state is first created; plans for another lineage are refused
    )
    serial: int  # +1 on every successful apply
    config: dict[str, Any]  # canonical applied config (JSON-able); secrets as salted fingerprints
    resolved: dict[str, Any]  # ids resolved at apply time (book ids, campaign ids, ...)
    fingerprints: dict[str, str]  # observed schema fingerprints at apply time
    config_sha256: str
    applied_at: str  # ISO 8601 UTC
    applied_by: str
    salt: str  # per-lineage salt for secret fingerprints; never leaves the store


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    serial: int
    lineage: str
    applied_at: str
    applied_by: str  # OS user
    host: str
    git_commit: str | None  # commit of the config file when it is in a git repo
    config_sha256: str
    summary: dict[str, int]  # {"create": n, "update": n, "delete": n, "no-op": n}
    # The CI job that applied, when one did: {"system", "actor", "run_url", "commit"} (not
    # secret; see reconcile/provenance.py). The OS user of a CI runner names nobody.
    ci: dict[str, str] | None = None
    git_error: str | None = None  # why git_commit is None although the config is in a repo


@dataclass(frozen=True, slots=True)
class LockInfo:
    name: str
    purpose: str  # "apply", "sync", ...
    pid: int
    host: str
    user: str
    since: str  # ISO 8601 UTC
    # Added by state (postgres backend): what the server knows about the holder's session.
    application_name: str | None = None
    client_addr: str | None = None


class LockHeld(LeadsyncError):
    """Raised when a lock is still held after --lock-timeout; names who holds it.

    (A LeadsyncError so the CLI shows its message and exits 1 without a traceback.)
    """

    error_code = "lock_held"

    def __init__(self, info: LockInfo) -> None:
        self.info = info
        session = ""
        if info.application_name or info.client_addr:  # postgres: the server's view as well
            session = f"; session {info.application_name or '?'} from {info.client_addr or '?'}"
        super().__init__(
            f"state lock {info.name!r} is held by {info.user}@{info.host} (pid {info.pid}, "
            f"{info.purpose}) since {info.since}{session}"
        )


class LockLost(LeadsyncError):
    """A lock this run holds is provably gone (its server session ended, its file was removed).

    Raised by `HeldLock.verify()` before a batch of remote writes: the run stops there, before
    writing, because another runner may already be inside the same account.
    """


class HeldLock(Protocol):
    """What `StateStore.lock()` yields: the locks taken, checkable while the run goes on."""

    def verify(self) -> None:
        """Raise LockLost unless every lock taken is still held by this process."""
        ...


class StaleState(LeadsyncError):
    """The state changed (serial or lineage) between reading it and committing a new one."""


class JsonDict(dict[str, Any]):
    """A read-only dict that keeps its JSON text once the state codec has made it (`json`).

    Why: a new member's `extra` (its values as read) is stored with each of its transitions,
    three or four per new Lead, and is the same object through all of them (a transition that
    changes `extra` builds a new dict): encoded once instead of each time. Read-only, so the
    text cannot go stale; values inside are never changed in place either (they come from
    JSON or are built fresh)."""

    __slots__ = ("json",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.json: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:  # copy, deepcopy and pickle: a new JsonDict
        return (JsonDict, (dict(self),))

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a JsonDict is read-only: build a new dict instead")

    __setitem__ = __delitem__ = __ior__ = _read_only
    update = pop = popitem = setdefault = clear = _read_only


@dataclass(slots=True)
class LedgerEntry:
    """One address-book member as the sync knows it. Key: (account, book_id, contact_id)."""

    account: str
    book_id: int
    contact_id: int
    email: str  # normalised: trimmed, lower-cased
    state: LedgerStateName
    attempt: str | None = (
        None  # id of a write in flight (run/batch or bulk job id): outcome in doubt
    )
    lead_id: str | None = None  # Salesforce Lead created for this member
    matched_id: str | None = None  # existing Lead/Contact that excluded it
    reason_code: str | None = (
        None  # e.g. MISSING_FIELDS, REQUIRED_FIELD_MISSING, DUPLICATES_DETECTED
    )
    reason: str | None = None  # human sentence (names fields, never secrets)
    fields: tuple[str, ...] = ()
    data_hash: str | None = (
        None  # hash of mapped values + mapping: permanent failures retry on change
    )
    campaign_id: str | None = None
    campaign_member_id: str | None = None  # set once the CampaignMember exists (or DUPLICATE_VALUE)
    origin: Literal["dotdigital", "salesforce"] = "dotdigital"
    tries: int = 0
    first_run: str | None = None
    last_run: str | None = None
    updated_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # When the write in `attempt` was sent (ISO 8601 UTC): without an upsert key on Lead, an
    # in-doubt create is not looked up and re-sent before sync.in_doubt_grace has passed.
    attempted_at: str | None = None


PushStateName = Literal["pending", "pushed", "skipped", "failed", "left", "removed"]


@dataclass(slots=True)
class PushEntry:
    """One Salesforce Campaign member as the push knows it. Key: (account, book_id, member_id).

    The push's ledger (Salesforce -> Dotdigital): which person a book holds because their
    Campaign put them there, with the values pushed, so a re-run writes only what changed and
    lead creation knows these emails came from Salesforce (origin `salesforce`). `member_id` is
    the CampaignMember Id; a Dotdigital-side member that clear_address_books removed has
    `dd:<contact id>` (it never had one).
    """

    account: str
    book_id: int
    member_id: str
    email: str  # normalised (trimmed, lower-cased); "" when the person has none
    state: PushStateName
    person_id: str | None = None  # the Lead or Contact Id
    person_type: str | None = None  # "Lead" | "Contact"
    campaign_id: str | None = None
    contact_id: int | None = None  # the Dotdigital contact id, once an import reported it
    # The import in flight (write-ahead): "import:<import id>", or "import:sending:<run>:<n>"
    # while the id is not known yet. Set: the outcome is in doubt until the next run settles it.
    attempt: str | None = None
    attempted_at: str | None = None
    data_hash: str | None = None  # email + datafield values: an unchanged member is not re-sent
    values: dict[str, Any] = field(default_factory=dict)  # datafield -> value, as pushed
    reason_code: str | None = None  # NO_EMAIL, an import failure code, LEFT_CAMPAIGN, ...
    reason: str | None = None
    tries: int = 0
    first_run: str | None = None
    last_run: str | None = None
    updated_at: str | None = None


LinkStateName = Literal["linked", "unlinked"]
LinkOutcome = Literal["pending", "update_failed", "conflict", "skipped"]


@dataclass(slots=True)
class Link:
    """A Dotdigital contact paired with the Salesforce record leadsync keeps it in step with.

    Key: (account, contact_id): one contact has one link whatever books it is in. `base` is
    the merge base, by datafield (a base outlives a Lead's conversion into a
    Contact): canonical values both sides agreed on, see sync/updates.py. `sf_seen` (by
    Salesforce field) and `dd_seen` (by datafield) are the raw values last read from, or
    written to, each side; None before the first read. Every change on either side is read
    (Salesforce by SystemModstamp, Dotdigital by the book's ~modified), so the side that did
    not change in a run is known without asking it again.
    """

    account: str
    contact_id: int
    email: str
    sobject: str  # "Lead" | "Contact"
    record_id: str
    book_id: int | None = None  # the book whose ledger entry made the link (for `records`)
    state: LinkStateName = "linked"
    base: dict[str, Any] = field(default_factory=dict)
    sf_seen: dict[str, Any] | None = None
    dd_seen: dict[str, Any] | None = None
    # The last run's notable outcome: `pending` (a write failed for now: retried every run),
    # `update_failed` (a value Salesforce or Dotdigital refused: retried when data changes),
    # `conflict` (both sides changed; Salesforce won), `skipped` (a rule kept a value out).
    outcome: LinkOutcome | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # {"run", "at", "fields": [...]}
    attempt: str | None = None  # a Dotdigital import in flight ("ddimport:<id>")
    linked_at: str | None = None
    last_run: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True, slots=True)
class PushMark:
    """Where a pushing book's next incremental read starts. Key: (account, book_id)."""

    account: str
    book_id: int
    salesforce: str | None = None  # the latest SystemModstamp read (Salesforce's own clock)
    dotdigital: str | None = None  # Dotdigital's time when the book was last read (clearing)
    fingerprint: str | None = None  # campaign, statuses, rows, clear: a change means a full read
    full_at: str | None = None  # when the last full read of the Campaign finished (UTC)


class StateStore(Protocol):
    """Every method is atomic; multi-row writes happen in one transaction."""

    def close(self) -> None: ...

    # --- applied state -------------------------------------------------------------------
    def read_applied(self) -> AppliedState | None: ...

    def commit_apply(
        self,
        new: AppliedState,
        entry: HistoryEntry,
        *,
        expected_lineage: str | None,
        expected_serial: int,
        baseline: Iterable[LedgerEntry] = (),
        watermarks: dict[tuple[str, int], str] | None = None,
        release_baseline: Sequence[tuple[str, int]] = (),
    ) -> None:
        """Write state, history, baseline ledger rows and watermarks in ONE transaction.

        `release_baseline`: (account, book id) of books whose baseline rows and watermark are
        deleted first (backfill turned on: the next sync takes those members as new).
        Raises StaleState when the stored lineage/serial differ from the expected ones.
        """
        ...

    def history(self, limit: int | None = None) -> list[HistoryEntry]: ...

    # --- locks (released by the OS / server when the holder dies) -------------------------
    def lock(
        self, names: Sequence[str], *, timeout: float, purpose: str
    ) -> AbstractContextManager[HeldLock]:
        """Take all named locks or none; wait up to `timeout` seconds, then raise LockHeld.
        While waiting, say who holds the lock every few seconds (logger `leadsync.lock`)."""
        ...

    def lock_holders(self) -> list[LockInfo]: ...

    # --- ledger ---------------------------------------------------------------------------
    def ledger_get(
        self, account: str, book_id: int, contact_ids: Iterable[int]
    ) -> dict[int, LedgerEntry]: ...

    def ledger_iter(
        self, account: str, book_id: int, states: Sequence[LedgerStateName] | None = None
    ) -> Iterator[LedgerEntry]: ...

    def ledger_ids(self, account: str, book_id: int, state: LedgerStateName) -> Iterator[int]:
        """Contact ids of the book's entries in `state` with no write in flight, in id order
        (the ids only: the caller reads the entries batch by batch)."""
        ...

    def ledger_without_member(
        self, account: str, book_id: int, not_run: str | None = None
    ) -> Iterator[LedgerEntry]:
        """Created and excluded entries with a campaign_id and no campaign_member_id (created
        first, each state by contact id); `not_run`: less those whose last_run is that run."""
        ...

    def ledger_known(self, account: str, book_id: int, contact_ids: Iterable[int]) -> set[int]:
        """The ids among `contact_ids` that have an entry in the book's ledger (any state)."""
        ...

    def ledger_in_doubt(self, account: str) -> list[LedgerEntry]:
        """Entries whose `attempt` is set: a write was in flight when a run stopped."""
        ...

    def ledger_put(self, entries: Sequence[LedgerEntry]) -> None: ...

    def ledger_counts(self, account: str | None = None) -> dict[tuple[str, int, str], int]:
        """(account, book_id, state) -> number of ledger rows (added by state: for `status`)."""
        ...

    def watermark(self, account: str, book_id: int) -> str | None: ...

    def set_watermark(self, account: str, book_id: int, value: str) -> None: ...

    def last_sweep(self, account: str, book_id: int) -> str | None:
        """Dotdigital server time (ISO 8601) of the book's last completed membership sweep."""
        ...

    def set_last_sweep(self, account: str, book_id: int, value: str) -> None: ...

    # --- push (Salesforce -> Dotdigital) ---------------------------------------------------
    def push_get(
        self, account: str, book_id: int, member_ids: Iterable[str]
    ) -> dict[str, PushEntry]: ...

    def push_iter(
        self, account: str, book_id: int, states: Sequence[PushStateName] | None = None
    ) -> Iterator[PushEntry]: ...

    def push_put(self, entries: Sequence[PushEntry]) -> None: ...

    def push_in_doubt(self, account: str) -> list[PushEntry]:
        """Push entries whose `attempt` is set: an import was in flight when a run stopped."""
        ...

    def push_by_email(
        self, account: str, emails: Iterable[str], book_id: int | None = None
    ) -> dict[str, list[PushEntry]]:
        """Normalised email -> the push entries with it (of one book, or the whole account)."""
        ...

    def push_counts(self, account: str | None = None) -> dict[tuple[str, int, str], int]: ...

    def push_mark(self, account: str, book_id: int) -> PushMark | None: ...

    def set_push_mark(self, mark: PushMark) -> None: ...

    # --- links (field updates, sync/links.py) ----------------------------------------------
    def links_get(self, account: str, contact_ids: Iterable[int]) -> dict[int, Link]: ...

    def links_for_records(self, account: str, record_ids: Iterable[str]) -> dict[str, Link]:
        """Linked (not unlinked) links by Salesforce record Id."""
        ...

    def links_with_outcome(self, account: str, outcomes: Sequence[str] | None = None) -> list[Link]:
        """Links whose last outcome is one of `outcomes` (any outcome when None)."""
        ...

    def links_put(self, links: Sequence[Link]) -> None: ...

    def links_count(self, account: str) -> dict[str, int]:
        """Linked (not unlinked) links of the account, by Salesforce object."""
        ...

    def ledger_unlinked(
        self, account: str, limit: int, not_run: str | None = None
    ) -> list[LedgerEntry]:
        """Created/excluded ledger entries with a Salesforce record and no link yet (any book
        of the account), at most `limit`, by book and contact id; `not_run`: less those whose
        last_run is that run."""
        ...

    def push_unlinked(self, account: str, limit: int) -> list[PushEntry]:
        """People the push wrote into a book (`pushed`, contact id known) with no link yet,
        at most `limit`, by book and member id."""
        ...

    def update_mark(self, account: str, source: str) -> str | None:
        """Where the update step reads changes from next (`dotdigital:<book id>`,
        `salesforce:<object>`): a server time, or an import in flight (`import:dotdigital`)."""
        ...

    def set_update_marks(self, account: str, marks: dict[str, str | None]) -> None:
        """Set (None: delete) several marks in one transaction."""
        ...

    # --- run reports ----------------------------------------------------------------------
    def save_run(self, run_id: str, report: dict[str, Any], started: str | None = None) -> None: ...

    def runs(self, limit: int | None = None) -> list[dict[str, Any]]: ...
