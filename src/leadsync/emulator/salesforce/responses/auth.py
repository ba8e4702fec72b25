"""Login endpoints: the OAuth 2.0 token endpoint and the SOAP partner login.

The SOAP login reads the envelope simple-salesforce (and the partner WSDL) sends:
`<login><username/><password/></login>` in namespace urn:partner.soap.sforce.com, with an
optional LoginScopeHeader/organizationId. It answers a partner `loginResponse` (HTTP 200) or a
`LoginFault` (HTTP 500, as SOAP faults travel), e.g. INVALID_LOGIN for wrong credentials.
"""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import unquote_plus
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from werkzeug.wrappers import Request, Response

from leadsync.emulator.salesforce.models import OAuthError, SalesforceBackend
from leadsync.emulator.salesforce.models.sessions import LoginFault

PARTNER_NS = "urn:partner.soap.sforce.com"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XML_TYPE = "text/xml; charset=utf-8"
MAX_ENVELOPE = 64 * 1024


def oauth_token(backend: SalesforceBackend, request: Request) -> Response:
    form = {**request.args.to_dict(), **request.form.to_dict()}
    try:
        body = backend.login(form, request.host_url.rstrip("/"), _basic(request))
    except OAuthError as exc:
        return _oauth_json(exc.body, 400)
    return _oauth_json(body, 200)


def _oauth_json(body: dict, status: int) -> Response:
    # The token endpoint answers with Cache-Control: no-store (RFC 6749 5.1).
    return Response(
        json.dumps(body),
        status=status,
        content_type="application/json;charset=UTF-8",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _basic(request: Request) -> tuple[str, str] | None:
    """(client_id, client_secret) from `Authorization: Basic ...` (form-encoded per RFC 6749
    2.3.1), or None when the request carries none."""
    scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "invalid client credentials") from None
    key, _, secret = decoded.partition(":")
    return unquote_plus(key), unquote_plus(secret)


def soap_login(backend: SalesforceBackend, request: Request, version: str) -> Response:
    """POST /services/Soap/u/{version}: the partner API login call."""
    raw = request.get_data()
    try:
        if len(raw) > MAX_ENVELOPE:
            raise ValueError("envelope too large")
        root = ElementTree.fromstring(raw)
    except (ElementTree.ParseError, ValueError):
        return _fault("soapenv:Client", "Premature end of file or malformed SOAP envelope.")
    call = root.find(f"{{{SOAP_NS}}}Body/{{{PARTNER_NS}}}login")
    if call is None:
        return _fault(
            "sf:INVALID_OPERATION",
            "INVALID_OPERATION: the emulator's SOAP endpoint answers the login call only",
            code="INVALID_OPERATION",
        )
    username = call.findtext(f"{{{PARTNER_NS}}}username") or ""
    password = call.findtext(f"{{{PARTNER_NS}}}password") or ""
    org = root.findtext(f"{{{SOAP_NS}}}Header/{{{PARTNER_NS}}}LoginScopeHeader/"
                        f"{{{PARTNER_NS}}}organizationId")  # fmt: skip
    try:
        result = backend.soap_login(username, password, org)
    except LoginFault as exc:
        return _fault(
            f"sf:{exc.code}", f"{exc.code}: {exc.message}", code=exc.code, text=exc.message
        )
    return _login_response(result, request.host_url.rstrip("/"), version)


def _login_response(result: dict, instance_url: str, version: str) -> Response:
    org = result["organizationId"]
    user = escape(result["userName"])
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns="{PARTNER_NS}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><loginResponse><result>"
        f"<metadataServerUrl>{instance_url}/services/Soap/m/{version}/{org}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired>"
        f"<sandbox>{'true' if result['sandbox'] else 'false'}</sandbox>"
        f"<serverUrl>{instance_url}/services/Soap/u/{version}/{org}</serverUrl>"
        f"<sessionId>{escape(result['sessionId'])}</sessionId>"
        f"<userId>{result['userId']}</userId>"
        "<userInfo>"
        f"<organizationId>{org}</organizationId>"
        "<organizationName>leadsync emulator</organizationName>"
        "<sessionSecondsValid>7200</sessionSecondsValid>"
        f"<userEmail>{user}</userEmail><userFullName>{user}</userFullName>"
        f"<userId>{result['userId']}</userId><userName>{user}</userName>"
        "<userType>Standard</userType>"
        "</userInfo>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, status=200, content_type=XML_TYPE)


def _fault(faultcode: str, faultstring: str, *, code: str = "", text: str = "") -> Response:
    detail = ""
    if code:
        detail = (
            '<detail><sf:LoginFault xsi:type="sf:LoginFault">'
            f"<sf:exceptionCode>{escape(code)}</sf:exceptionCode>"
            f"<sf:exceptionMessage>{escape(text or faultstring)}</sf:exceptionMessage>"
            "</sf:LoginFault></detail>"
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>{escape(faultcode)}</faultcode><faultstring>{escape(faultstring)}</faultstring>"
        f"{detail}</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, status=500, content_type=XML_TYPE)
