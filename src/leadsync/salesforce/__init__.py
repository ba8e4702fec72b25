"""Salesforce client: a thin layer over simple-salesforce (REST, Composite, Bulk API 2.0).

simple-salesforce imports PyJWT (and `cryptography`) eagerly; only a JWT login needs it, so it
is deferred here, before any module of this package imports simple-salesforce.
"""

from leadsync.deferred import defer

defer("jwt")
