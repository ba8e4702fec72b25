"""The JWT bearer assertion (RFC 7523) as Salesforce checks it: an RS256-signed JWT whose
signature verifies with the certificate uploaded to the connected app.

A reading of its own (cryptography directly, no JWT library), so the emulator and the clients
that sign with PyJWT do not share one understanding of the format.

What Salesforce answers (all HTTP 400; the order of the checks is not documented, this is the
order used here):
- not a JWT, or a signature the app's certificate does not verify: invalid_grant "invalid assertion"
- `iss` is no connected app's consumer key: invalid_client_id "client identifier invalid"
- `aud` is not the login host (https://login.salesforce.com; https://test.salesforce.com for a
  sandbox): invalid_grant "audience is invalid"
- `exp` in the past (no leeway modelled): invalid_grant "expired authorization code"
- `sub` is no user of the org: invalid_grant "user hasn't approved this consumer" (the answer
  for a user the app is not approved for; Salesforce says no more for an unknown one)
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PRODUCTION_AUDIENCE = "https://login.salesforce.com"
SANDBOX_AUDIENCE = "https://test.salesforce.com"


class AssertionRefused(Exception):
    """The token endpoint's answer: {"error": code, "error_description": description}."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def invalid_assertion() -> AssertionRefused:
    return AssertionRefused("invalid_grant", "invalid assertion")


@dataclass(frozen=True)
class Assertion:
    header: dict
    claims: dict
    signing_input: bytes
    signature: bytes


def _b64url(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise invalid_assertion() from None


def parse(assertion: str) -> Assertion:
    """Split and decode a compact JWS; anything else is an invalid assertion."""
    parts = assertion.strip().split(".")
    if len(parts) != 3:
        raise invalid_assertion()
    try:
        header = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
    except (ValueError, UnicodeDecodeError):
        raise invalid_assertion() from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise invalid_assertion()
    return Assertion(header, claims, f"{parts[0]}.{parts[1]}".encode(), _b64url(parts[2]))


def verify_signature(assertion: Assertion, certificate_pem: str | None) -> None:
    """RS256 with the public key of the app's certificate (Salesforce accepts only RS256)."""
    if assertion.header.get("alg") != "RS256" or not certificate_pem:
        raise invalid_assertion()
    try:
        key = x509.load_pem_x509_certificate(certificate_pem.encode()).public_key()
    except ValueError:
        raise invalid_assertion() from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise invalid_assertion()
    try:
        key.verify(
            assertion.signature, assertion.signing_input, padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        raise invalid_assertion() from None


def check_claims(claims: dict, *, audience: str, now: float) -> None:
    """aud names the login host, exp is still ahead (seconds since the epoch)."""
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if not any(isinstance(a, str) and a.rstrip("/") == audience for a in audiences):
        raise AssertionRefused("invalid_grant", "audience is invalid")
    try:
        exp = float(claims.get("exp"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise invalid_assertion() from None
    if exp <= now:
        raise AssertionRefused("invalid_grant", "expired authorization code")
