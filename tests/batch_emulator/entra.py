"""Entra ID bearer tokens, checked with the standard library only (RS256, like Entra's own).

The emulator is given the issuer's public keys as a JWKS document (`--entra-jwks FILE`,
{"keys": [{"kty": "RSA", "kid", "n", "e"}], "issuer": optional}). A request with
`Authorization: Bearer <JWT>` passes when:

- the JWT's header says alg RS256 and names a known key (kid; a one-key set needs none);
- the RS256 signature (RSASSA-PKCS1-v1_5 over SHA-256) verifies with that key;
- `aud` is exactly `https://batch.core.windows.net/` (with the slash: the service refuses
  the audience without it, in these words);
- `nbf` <= now and `exp` > now, allowing the 5 minutes of clock skew Azure allows;
- `iss` equals the JWKS document's "issuer" when it has one.

Anything else answers 401 AuthenticationFailed with an AuthenticationErrorDetail, as the
service does for a bad token. Role checks (Batch data contributor etc.) are not modelled:
any valid token may do anything.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import json
import time
from typing import Any

BATCH_AUDIENCE = "https://batch.core.windows.net/"
CLOCK_SKEW_S = 300
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


class TokenRejected(Exception):
    """Why a bearer token was refused (the AuthenticationErrorDetail text)."""


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int(text: str) -> int:
    return int.from_bytes(b64url_decode(text), "big")


def rs256_valid(signing_input: bytes, signature: bytes, n: int, e: int) -> bool:
    """RSASSA-PKCS1-v1_5 verification with SHA-256 (RFC 8017 8.2.2), in plain integers."""
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    em = pow(s, e, n).to_bytes(k, "big")
    t = _SHA256_DIGEST_INFO + hashlib.sha256(signing_input).digest()
    if k < len(t) + 11:
        return False
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(em, expected)


def _when(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%m/%d/%Y %I:%M:%S %p")


class BearerVerifier:
    def __init__(self, jwks: dict[str, Any]) -> None:
        self.keys = [k for k in jwks.get("keys", []) if k.get("kty") == "RSA"]
        self.issuer = jwks.get("issuer")

    @classmethod
    def from_file(cls, path: str) -> BearerVerifier:
        with open(path, encoding="utf-8") as fh:
            return cls(json.load(fh))

    def _key(self, kid: str | None) -> dict[str, Any]:
        if kid is None and len(self.keys) == 1:
            return self.keys[0]
        for key in self.keys:
            if key.get("kid") == kid:
                return key
        raise TokenRejected(f"The access token was signed with an unknown key '{kid}'.")

    def verify(self, token: str, now: float | None = None) -> dict[str, Any]:
        """The token's claims, or TokenRejected."""
        now = time.time() if now is None else now
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenRejected("The access token is not a well-formed JWT.")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except (ValueError, UnicodeDecodeError):
            raise TokenRejected("The access token is not a well-formed JWT.") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise TokenRejected("The access token is not a well-formed JWT.")
        if header.get("alg") != "RS256":
            raise TokenRejected(
                f"The access token's signature algorithm '{header.get('alg')}' is not accepted."
            )
        key = self._key(header.get("kid"))
        signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
        if not rs256_valid(signing_input, signature, _int(key["n"]), _int(key["e"])):
            raise TokenRejected("The access token signature is invalid.")
        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        if BATCH_AUDIENCE not in audiences:
            raise TokenRejected(
                "The access token has been obtained from wrong audience or resource "
                f"'{audiences[0]}'. It should exactly match (including forward slash) with one "
                f"of the allowed audiences '{BATCH_AUDIENCE}'"
            )
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, (int, float)):
            raise TokenRejected("The access token has no expiry time.")
        if exp + CLOCK_SKEW_S <= now:
            raise TokenRejected(
                f"The access token expiry UTC time '{_when(exp)}' is earlier than current UTC "
                f"time '{_when(now)}'."
            )
        if isinstance(nbf, (int, float)) and nbf - CLOCK_SKEW_S > now:
            raise TokenRejected(
                f"The access token is not valid before UTC time '{_when(nbf)}'; current UTC "
                f"time is '{_when(now)}'."
            )
        if self.issuer and claims.get("iss") != self.issuer:
            raise TokenRejected(f"The access token is from the wrong issuer '{claims.get('iss')}'.")
        return claims
