"""The applied integration's contract: the two documents `apply` stores and everyone reads.

An applied state holds two JSON documents besides its ids: `resolved` (the integration with
every name resolved: book ids, campaign ids, field types; what `sync` runs) and `config` (the
canonical snapshot of leadsync.yaml; what `status`/`sync` compare the file with). Both are
written and read only through this package, so their shapes, the way secrets are fingerprinted
and the rule for "differs" each have one home:

    AppliedIntegration.from_json(doc) / .to_json()    the `resolved` document, typed (integration.py)
    ConfigSnapshot.of(config, salt) / .from_json(doc) the `config` document (snapshot.py)
    ConfigSnapshot.differences(desired)               what "leadsync.yaml differs" means
    config_differences(applied_state, config)         ... for the file as it is now
    plain(value, salt), settings_view, read_settings   secrets and settings, serialised once (values.py)

It sits below both `reconcile` (which writes it) and `sync` (which reads it) and imports only
`config.model`: docs/ARCHITECTURE.md, "How to add a default or a config key".
"""

from leadsync.applied.integration import (
    RESOLVED_FORMAT,
    AccountSettings,
    AppliedAccount,
    AppliedBook,
    AppliedFormatError,
    AppliedIntegration,
    LeadSchema,
    MappingRow,
    MemberStatus,
    SalesforceView,
)
from leadsync.applied.snapshot import (
    SNAPSHOT_FORMAT,
    ConfigSnapshot,
    config_differences,
    differences,
    snapshot,
)
from leadsync.applied.values import plain

__all__ = [
    "RESOLVED_FORMAT",
    "SNAPSHOT_FORMAT",
    "AccountSettings",
    "AppliedAccount",
    "AppliedBook",
    "AppliedFormatError",
    "AppliedIntegration",
    "ConfigSnapshot",
    "LeadSchema",
    "MappingRow",
    "MemberStatus",
    "SalesforceView",
    "config_differences",
    "differences",
    "plain",
    "snapshot",
]
