"""A local Salesforce org: REST, sObject Collections, SOQL subset, Bulk API 2.0 ingest, OAuth.

Laid out like a moto service: `models` (the org and Salesforce's rules), `responses` (wire shapes),
`urls` (routing, `make_app`), `exceptions` (error codes). It shares no code with leadsync's client.
"""

from leadsync.emulator.salesforce.models import SalesforceBackend
from leadsync.emulator.salesforce.urls import make_app

__all__ = ["SalesforceBackend", "make_app"]
