"""Login endpoints: the OAuth 2.0 token endpoint and the SOAP partner login."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from leadsync.emulator.salesforce.models import OAuthError, SalesforceBackend
from leadsync.emulator.salesforce.responses.common import (
    json_response,
)

# --- OAuth and emulator controls --------------------------------------------------------------


def oauth_token(backend: SalesforceBackend, request: Request) -> Response:
    form = {**request.args.to_dict(), **request.form.to_dict()}
    try:
        return json_response(backend.login(form, request.host_url.rstrip("/")))
    except OAuthError as exc:
        return json_response(exc.body, 400)
