"""A local Entra ID token issuer for tests, and a TokenCredential that uses it.

Test-side only: it signs with the `cryptography` package, which the emulator itself never
imports (the emulator verifies with the standard library, see entra.py). Tokens look like
Entra ID access tokens (RS256, kid, iss https://sts.windows.net/<tenant>/, aud, oid, tid,
iat/nbf/exp), so the same credential serves the Batch emulator (signature checked) and
Azurite's basic OAuth (which checks issuer, audience and lifetime only).

    issuer = LocalEntraIssuer()
    emulator = start_batch_emulator(..., tls=(cert, key), entra=issuer)
    credential = EntraTestCredential(issuer)          # any azure-core TokenCredential use
    BatchClient("https://127.0.0.1:port", credential)
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from typing import Any

from azure.core.credentials import AccessToken

BATCH_SCOPE = "https://batch.core.windows.net//.default"
STORAGE_SCOPE = "https://storage.azure.com/.default"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_int(n: int) -> str:
    return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def audience_for(scope: str) -> str:
    """Entra's rule: the resource part of the scope. The Batch scope has a double slash
    (`https://batch.core.windows.net//.default`), so its audience keeps the trailing slash."""
    return scope[: -len("/.default")] if scope.endswith("/.default") else scope


class LocalEntraIssuer:
    """An RSA key pair and the tenant it speaks for; `jwks()` is what the emulator trusts."""

    def __init__(self, tenant_id: str | None = None) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.kid = uuid.uuid4().hex[:16]
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def issuer(self) -> str:
        return f"https://sts.windows.net/{self.tenant_id}/"

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        key = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
               "n": _b64url_int(numbers.n), "e": _b64url_int(numbers.e)}
        return {"keys": [key], "issuer": self.issuer}

    def token(
        self,
        audience: str,
        *,
        lifetime_s: int = 3600,
        not_before_s: int = -60,
        oid: str | None = None,
        issuer: str | None = None,
        sign_with: LocalEntraIssuer | None = None,
    ) -> tuple[str, int]:
        """A signed access token for `audience` and its expiry (epoch seconds).

        `lifetime_s` may be negative (an expired token); `sign_with` signs with another
        issuer's key under this issuer's kid (a forged signature)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = int(time.time())
        expires = now + lifetime_s
        claims = {
            "aud": audience,
            "iss": issuer or self.issuer,
            "iat": now + min(0, not_before_s),
            "nbf": now + not_before_s,
            "exp": expires,
            "oid": oid or str(uuid.uuid4()),
            "tid": self.tenant_id,
            "scp": "user_impersonation",
            "ver": "1.0",
        }
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        key = (sign_with or self)._key
        signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}", expires


class EntraTestCredential:
    """A TokenCredential (azure-core protocol) whose tokens come from a LocalEntraIssuer.

    One signed-in user (`oid`, `tenant_id`); each get_token(scope) gets a token whose
    audience follows from the scope, as Entra does. `scopes` records what was asked for.
    """

    def __init__(self, issuer: LocalEntraIssuer, *, lifetime_s: int = 3600,
                 audience: str | None = None) -> None:
        self.issuer = issuer
        self.oid = str(uuid.uuid4())
        self.tenant_id = issuer.tenant_id
        self.lifetime_s = lifetime_s
        self.audience = audience  # force one audience whatever the scope (a wrong token)
        self.scopes: list[tuple[str, ...]] = []
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        with self._lock:
            self.scopes.append(scopes)
        audience = self.audience or audience_for(scopes[0] if scopes else BATCH_SCOPE)
        token, expires = self.issuer.token(audience, lifetime_s=self.lifetime_s, oid=self.oid)
        return AccessToken(token, expires)

    def close(self) -> None:
        pass

    def __enter__(self) -> EntraTestCredential:
        return self

    def __exit__(self, *args: Any) -> None:
        pass
