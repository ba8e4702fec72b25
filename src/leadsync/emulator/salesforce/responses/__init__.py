"""Wire shapes: JSON bodies, CSV result files, SOAP envelopes, status codes. Rules live in models/.

One module per API family; urls.py routes to the names re-exported here.
"""

from leadsync.emulator.salesforce.responses.auth import oauth_token, soap_login
from leadsync.emulator.salesforce.responses.bulk import (
    job,
    job_batches,
    job_results,
    jobs_root,
    query_job,
    query_job_results,
    query_jobs_root,
)
from leadsync.emulator.salesforce.responses.collections import (
    composite_retrieve,
    composite_sobjects,
    composite_upsert,
)
from leadsync.emulator.salesforce.responses.common import error_response, json_response
from leadsync.emulator.salesforce.responses.composite import composite, composite_batch
from leadsync.emulator.salesforce.responses.control import (
    control_clock,
    control_convert_lead,
    control_expire_token,
    control_limits,
)
from leadsync.emulator.salesforce.responses.rest import (
    describe,
    global_describe,
    limits,
    query,
    query_more,
    resources,
    sobject_root,
    sobject_row,
    versions,
)

__all__ = [
    "composite",
    "composite_batch",
    "composite_retrieve",
    "composite_sobjects",
    "composite_upsert",
    "control_clock",
    "control_convert_lead",
    "control_expire_token",
    "control_limits",
    "describe",
    "error_response",
    "global_describe",
    "job",
    "job_batches",
    "job_results",
    "jobs_root",
    "json_response",
    "limits",
    "oauth_token",
    "query",
    "query_job",
    "query_job_results",
    "query_jobs_root",
    "query_more",
    "resources",
    "soap_login",
    "sobject_root",
    "sobject_row",
    "versions",
]
