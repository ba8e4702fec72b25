"""Salesforce client: a thin layer over simple-salesforce (REST, Composite, Bulk API 2.0).

simple-salesforce imports PyJWT (with `cryptography`) and its Metadata API module (with zeep
and lxml) eagerly; a JWT login needs the first, leadsync never uses the second. Both are
deferred here (leadsync.deferred), before any module of this package imports simple-salesforce.
"""

from leadsync.deferred import defer

defer("jwt")
defer("simple_salesforce.metadata", classes=("SfdcMetadataApi",), package=False)
