"""Versioned schema steps per backend. Append new steps; never edit a released one.

Both backends hold the same tables and columns (see codec.py for the column order):
- applied_state: the single current row (id = 1) of the applied integration;
- history: one row per successful apply, in order;
- ledger: one row per address-book member ever seen, keyed by (account, book_id, contact_id),
  sized for millions of rows: the primary key serves lookups by id and paging per book, an
  index on (account, state, book_id, contact_id) serves `records --state` and per-state
  paging, and a partial index covers the few rows whose write is in doubt;
- watermarks: per (account, book_id), the Dotdigital server time the next sync starts from;
- runs: one report per sync run.
Step 2 adds to history the CI job that applied (`ci`, JSON) and why the git commit of the config
could not be read (`git_error`); rows written before have both NULL.
Step 3 adds ledger.attempted_at, the time a write in doubt was sent (rows already in doubt take
their updated_at, which the write-ahead mark set).
Step 4 adds sweeps: per (account, book_id), the Dotdigital server time of the last membership
sweep (a full read of the book's member ids, see sync/engine.py `sweep`).
Step 5 adds the push (Salesforce -> Dotdigital): push_members, one row per Campaign member a
pushing book holds or held (keyed by the CampaignMember Id; an index by email serves "did this
person come from Salesforce?"), and push_marks, where each pushing book's next incremental read
starts.
Step 6 adds the field-update state: `links`, one row
per Dotdigital contact paired with a Salesforce Lead or Contact (merge base and the values last
seen on each side, keyed by datafield; see state/model.py Link), indexed by record Id and by
outcome; and `update_marks`: per (account, source) where the update step reads changes from.
JSON values are text in SQLite and jsonb in PostgreSQL (queryable by operators).
"""

from __future__ import annotations

Steps = list[tuple[int, list[str]]]

SQLITE_STEPS: Steps = [
    (
        1,
        [
            """CREATE TABLE applied_state (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                lineage TEXT NOT NULL,
                serial INTEGER NOT NULL,
                config TEXT NOT NULL,
                resolved TEXT NOT NULL,
                fingerprints TEXT NOT NULL,
                config_sha256 TEXT NOT NULL,
                applied_at TEXT NOT NULL,
                applied_by TEXT NOT NULL,
                salt TEXT NOT NULL
            )""",
            """CREATE TABLE history (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                serial INTEGER NOT NULL,
                lineage TEXT NOT NULL,
                applied_at TEXT NOT NULL,
                applied_by TEXT NOT NULL,
                host TEXT NOT NULL,
                git_commit TEXT,
                config_sha256 TEXT NOT NULL,
                summary TEXT NOT NULL
            )""",
            """CREATE TABLE ledger (
                account TEXT NOT NULL,
                book_id INTEGER NOT NULL,
                contact_id INTEGER NOT NULL,
                email TEXT NOT NULL,
                state TEXT NOT NULL,
                attempt TEXT,
                lead_id TEXT,
                matched_id TEXT,
                reason_code TEXT,
                reason TEXT,
                fields TEXT NOT NULL DEFAULT '[]',
                data_hash TEXT,
                campaign_id TEXT,
                campaign_member_id TEXT,
                origin TEXT NOT NULL DEFAULT 'dotdigital',
                tries INTEGER NOT NULL DEFAULT 0,
                first_run TEXT,
                last_run TEXT,
                updated_at TEXT,
                extra TEXT NOT NULL DEFAULT '{}',
                PRIMARY KEY (account, book_id, contact_id)
            ) WITHOUT ROWID""",
            "CREATE INDEX ledger_by_state ON ledger (account, state, book_id, contact_id)",
            "CREATE INDEX ledger_in_doubt ON ledger (account, attempt) WHERE attempt IS NOT NULL",
            """CREATE TABLE watermarks (
                account TEXT NOT NULL,
                book_id INTEGER NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (account, book_id)
            )""",
            """CREATE TABLE runs (
                run_id TEXT PRIMARY KEY,
                started_at TEXT NOT NULL,
                report TEXT NOT NULL
            )""",
            "CREATE INDEX runs_by_start ON runs (started_at)",
        ],
    ),
    (
        2,
        [
            "ALTER TABLE history ADD COLUMN ci TEXT",
            "ALTER TABLE history ADD COLUMN git_error TEXT",
        ],
    ),
    (
        3,
        [
            "ALTER TABLE ledger ADD COLUMN attempted_at TEXT",
            "UPDATE ledger SET attempted_at = updated_at WHERE attempt IS NOT NULL",
        ],
    ),
    (
        4,
        [
            """CREATE TABLE sweeps (
                account TEXT NOT NULL,
                book_id INTEGER NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (account, book_id)
            )""",
        ],
    ),
    (
        5,
        [
            """CREATE TABLE push_members (
                account TEXT NOT NULL,
                book_id INTEGER NOT NULL,
                member_id TEXT NOT NULL,
                email TEXT NOT NULL,
                state TEXT NOT NULL,
                person_id TEXT,
                person_type TEXT,
                campaign_id TEXT,
                contact_id INTEGER,
                attempt TEXT,
                attempted_at TEXT,
                data_hash TEXT,
                push_values TEXT NOT NULL DEFAULT '{}',
                reason_code TEXT,
                reason TEXT,
                tries INTEGER NOT NULL DEFAULT 0,
                first_run TEXT,
                last_run TEXT,
                updated_at TEXT,
                PRIMARY KEY (account, book_id, member_id)
            ) WITHOUT ROWID""",
            "CREATE INDEX push_members_by_email ON push_members (account, email)",
            "CREATE INDEX push_members_by_state ON push_members "
            "(account, state, book_id, member_id)",
            "CREATE INDEX push_members_in_doubt ON push_members (account, attempt) "
            "WHERE attempt IS NOT NULL",
            """CREATE TABLE push_marks (
                account TEXT NOT NULL,
                book_id INTEGER NOT NULL,
                salesforce TEXT,
                dotdigital TEXT,
                fingerprint TEXT,
                full_at TEXT,
                PRIMARY KEY (account, book_id)
            )""",
        ],
    ),
    (
        6,
        [
            """CREATE TABLE links (
                account TEXT NOT NULL,
                contact_id INTEGER NOT NULL,
                email TEXT NOT NULL,
                sobject TEXT NOT NULL,
                record_id TEXT NOT NULL,
                book_id INTEGER,
                state TEXT NOT NULL,
                base TEXT NOT NULL DEFAULT '{}',
                sf_seen TEXT,
                dd_seen TEXT,
                outcome TEXT,
                detail TEXT NOT NULL DEFAULT '{}',
                attempt TEXT,
                linked_at TEXT,
                last_run TEXT,
                updated_at TEXT,
                PRIMARY KEY (account, contact_id)
            ) WITHOUT ROWID""",
            "CREATE INDEX links_by_record ON links (account, record_id)",
            "CREATE INDEX links_by_outcome ON links (account, outcome) WHERE outcome IS NOT NULL",
            """CREATE TABLE update_marks (
                account TEXT NOT NULL,
                source TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (account, source)
            )""",
        ],
    ),
]

POSTGRES_STEPS: Steps = [
    (
        1,
        [
            """CREATE TABLE applied_state (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                lineage TEXT NOT NULL,
                serial BIGINT NOT NULL,
                config JSONB NOT NULL,
                resolved JSONB NOT NULL,
                fingerprints JSONB NOT NULL,
                config_sha256 TEXT NOT NULL,
                applied_at TEXT NOT NULL,
                applied_by TEXT NOT NULL,
                salt TEXT NOT NULL
            )""",
            """CREATE TABLE history (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                serial BIGINT NOT NULL,
                lineage TEXT NOT NULL,
                applied_at TEXT NOT NULL,
                applied_by TEXT NOT NULL,
                host TEXT NOT NULL,
                git_commit TEXT,
                config_sha256 TEXT NOT NULL,
                summary JSONB NOT NULL
            )""",
            """CREATE TABLE ledger (
                account TEXT NOT NULL,
                book_id BIGINT NOT NULL,
                contact_id BIGINT NOT NULL,
                email TEXT NOT NULL,
                state TEXT NOT NULL,
                attempt TEXT,
                lead_id TEXT,
                matched_id TEXT,
                reason_code TEXT,
                reason TEXT,
                fields JSONB NOT NULL DEFAULT '[]',
                data_hash TEXT,
                campaign_id TEXT,
                campaign_member_id TEXT,
                origin TEXT NOT NULL DEFAULT 'dotdigital',
                tries INTEGER NOT NULL DEFAULT 0,
                first_run TEXT,
                last_run TEXT,
                updated_at TEXT,
                extra JSONB NOT NULL DEFAULT '{}',
                PRIMARY KEY (account, book_id, contact_id)
            )""",
            "CREATE INDEX ledger_by_state ON ledger (account, state, book_id, contact_id)",
            "CREATE INDEX ledger_in_doubt ON ledger (account, attempt) WHERE attempt IS NOT NULL",
            """CREATE TABLE watermarks (
                account TEXT NOT NULL,
                book_id BIGINT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (account, book_id)
            )""",
            """CREATE TABLE runs (
                run_id TEXT PRIMARY KEY,
                started_at TEXT NOT NULL,
                report JSONB NOT NULL
            )""",
            "CREATE INDEX runs_by_start ON runs (started_at)",
            # Who holds which advisory lock (pg_locks only knows the session and the key).
            """CREATE TABLE lock_holders (
                name TEXT PRIMARY KEY,
                lock_key BIGINT NOT NULL,
                purpose TEXT NOT NULL,
                pid INTEGER NOT NULL,
                host TEXT NOT NULL,
                os_user TEXT NOT NULL,
                since TEXT NOT NULL,
                backend_pid INTEGER NOT NULL
            )""",
        ],
    ),
    (
        2,
        [
            "ALTER TABLE history ADD COLUMN ci JSONB",
            "ALTER TABLE history ADD COLUMN git_error TEXT",
        ],
    ),
    (
        3,
        [
            "ALTER TABLE ledger ADD COLUMN attempted_at TEXT",
            "UPDATE ledger SET attempted_at = updated_at WHERE attempt IS NOT NULL",
        ],
    ),
    (
        4,
        [
            """CREATE TABLE sweeps (
                account TEXT NOT NULL,
                book_id BIGINT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (account, book_id)
            )""",
        ],
    ),
    (
        5,
        [
            """CREATE TABLE push_members (
                account TEXT NOT NULL,
                book_id BIGINT NOT NULL,
                member_id TEXT NOT NULL,
                email TEXT NOT NULL,
                state TEXT NOT NULL,
                person_id TEXT,
                person_type TEXT,
                campaign_id TEXT,
                contact_id BIGINT,
                attempt TEXT,
                attempted_at TEXT,
                data_hash TEXT,
                push_values JSONB NOT NULL DEFAULT '{}',
                reason_code TEXT,
                reason TEXT,
                tries INTEGER NOT NULL DEFAULT 0,
                first_run TEXT,
                last_run TEXT,
                updated_at TEXT,
                PRIMARY KEY (account, book_id, member_id)
            )""",
            "CREATE INDEX push_members_by_email ON push_members (account, email)",
            "CREATE INDEX push_members_by_state ON push_members "
            "(account, state, book_id, member_id)",
            "CREATE INDEX push_members_in_doubt ON push_members (account, attempt) "
            "WHERE attempt IS NOT NULL",
            """CREATE TABLE push_marks (
                account TEXT NOT NULL,
                book_id BIGINT NOT NULL,
                salesforce TEXT,
                dotdigital TEXT,
                fingerprint TEXT,
                full_at TEXT,
                PRIMARY KEY (account, book_id)
            )""",
        ],
    ),
    (
        6,
        [
            """CREATE TABLE links (
                account TEXT NOT NULL,
                contact_id BIGINT NOT NULL,
                email TEXT NOT NULL,
                sobject TEXT NOT NULL,
                record_id TEXT NOT NULL,
                book_id BIGINT,
                state TEXT NOT NULL,
                base JSONB NOT NULL DEFAULT '{}',
                sf_seen JSONB,
                dd_seen JSONB,
                outcome TEXT,
                detail JSONB NOT NULL DEFAULT '{}',
                attempt TEXT,
                linked_at TEXT,
                last_run TEXT,
                updated_at TEXT,
                PRIMARY KEY (account, contact_id)
            )""",
            "CREATE INDEX links_by_record ON links (account, record_id)",
            "CREATE INDEX links_by_outcome ON links (account, outcome) WHERE outcome IS NOT NULL",
            """CREATE TABLE update_marks (
                account TEXT NOT NULL,
                source TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (account, source)
            )""",
        ],
    ),
]


def latest_version(steps: Steps) -> int:
    return max(version for version, _ in steps)
