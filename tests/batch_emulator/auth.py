"""Request authentication: SharedKey (mirroring how azure-batch 15.x signs, see
azure/batch/_patch.py) and Entra ID bearer tokens (entra.py).

SharedKey failures answer 403 (401 when the header is missing), bearer failures 401, both
AuthenticationFailed with an AuthenticationErrorDetail, as the service does.

String to sign:
    VERB\n
    content-encoding\n content-language\n content-length\n content-md5\n content-type\n
    date\n if-modified-since\n if-match\n if-none-match\n if-unmodified-since\n range\n
    every header whose name contains "ocp-", lower-cased, sorted, as "name:value\n"
    /{account}{raw url path}
    then for each query parameter, sorted by name: "\nname:value" (first value, decoded)
A non-GET/HEAD request without content-length is signed with content-length "0".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qs

from .entra import BearerVerifier, TokenRejected

SHARED_KEY_MESSAGE = (
    "Server failed to authenticate the request. Make sure the value of Authorization header "
    "is formed correctly including the signature."
)
BEARER_MESSAGE = (
    "Server failed to authenticate the request. Make sure the value of Authorization header "
    "is formed correctly."
)

HEADERS_TO_SIGN = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
]


def string_to_sign(
    method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], account: str
) -> str:
    hdrs = {k.lower(): v for k, v in headers.items() if v}
    if method in ("GET", "HEAD"):
        # Clients that sign a bodyless GET have no content-length; some transports still
        # send "Content-Length: 0". Treat it as absent, like the service does.
        if hdrs.get("content-length") == "0":
            hdrs.pop("content-length")
    elif "content-length" not in hdrs:
        hdrs["content-length"] = "0"
    out = method + "\n"
    out += "\n".join(str(hdrs.get(h, "")) for h in HEADERS_TO_SIGN) + "\n"
    ocp = sorted((k, v) for k, v in hdrs.items() if "ocp-" in k)
    for name, value in ocp:
        out += f"{name}:{value}\n"
    out += f"/{account}{raw_path}"
    query = parse_qs(raw_query)
    for name in sorted(query):
        value = query[name][0]
        if value:
            out += f"\n{name}:{value}"
    return out


def sign(key_b64: str, text: str) -> str:
    key = base64.b64decode(key_b64)
    return base64.b64encode(hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()).decode()


def authorization_header(
    method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], account: str, key: str
) -> str:
    """What a client sends; used by the conformance replay test to sign raw requests."""
    sts = string_to_sign(method, raw_path, raw_query, headers, account)
    return f"SharedKey {account}:{sign(key, sts)}"


class AuthError(Exception):
    def __init__(
        self, status: int, detail_key: str, detail: str, message: str = SHARED_KEY_MESSAGE
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail_key = detail_key
        self.detail = detail
        self.message = message


def verify(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    account: str,
    key: str,
    bearer: BearerVerifier | None = None,
) -> None:
    """Raise AuthError unless the request carries a valid SharedKey signature for account,
    or (with a verifier) a valid Entra ID bearer token."""
    auth = None
    for k, v in headers.items():
        if k.lower() == "authorization":
            auth = v
    if not auth:
        raise AuthError(
            401, "AuthenticationErrorDetail", "The request is missing an Authorization header."
        )
    scheme, _, rest = auth.partition(" ")
    if scheme.lower() == "bearer":
        if bearer is None:
            raise AuthError(
                401,
                "AuthenticationErrorDetail",
                "This emulator was started without an Entra ID issuer (--entra-jwks), so it "
                "accepts no bearer tokens.",
                BEARER_MESSAGE,
            )
        try:
            bearer.verify(rest.strip())
        except TokenRejected as exc:
            raise AuthError(401, "AuthenticationErrorDetail", str(exc), BEARER_MESSAGE) from None
        return
    if scheme != "SharedKey" or ":" not in rest:
        raise AuthError(
            403,
            "AuthenticationErrorDetail",
            "The Authorization header is not of the form 'SharedKey account:signature' or "
            "'Bearer token'.",
        )
    claimed, _, signature = rest.partition(":")
    if claimed != account:
        raise AuthError(
            403,
            "AuthenticationErrorDetail",
            "Cannot find the claimed account when trying to GetProperties for the account "
            f"{claimed}.",
        )
    sts = string_to_sign(method, raw_path, raw_query, headers, account)
    expected = sign(key, sts)
    if not hmac.compare_digest(expected, signature):
        raise AuthError(
            403,
            "AuthenticationErrorDetail",
            f"The MAC signature found in the HTTP request '{signature}' is not the same as any "
            "computed signature. Server used following string to sign: "
            f"'{sts}'.",
        )
