"""Azure errors a user can meet, turned into one plain sentence: what happened, what to do.

The SDKs raise a handful of exception types whose useful part (the service's error
code, the host that did not answer) is buried in different places; `error_code` digs
it out, `plain_error` writes the sentence, `is_transient` says whether waiting helps.
Secrets never reach these messages: only codes, host names and the service's own text.
"""

from __future__ import annotations

import binascii
import json
import re
from urllib.parse import urlparse

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

#: service error codes that mean "try again later" rather than "something is wrong"
TRANSIENT_CODES = {
    "ServerBusy",
    "OperationTimedOut",
    "InternalError",
    "ServiceUnavailable",
    "TooManyRequests",
}

QUOTA_CODES = {
    "AccountCoreQuotaReached",
    "AccountLowPriorityCoreQuotaReached",
    "AccountSpotCoreQuotaReached",
    "AccountVMSeriesCoreQuotaReached",
    "AccountQuotaExceeded",
    "PoolQuotaReached",
    "ActiveJobAndScheduleQuotaReached",
    "CoreQuotaReached",
}


def value(enum_or_str: object) -> str:
    """An SDK enum or plain string as its lower-case value ('Success' -> 'success')."""
    return str(getattr(enum_or_str, "value", enum_or_str) or "").lower()


def error_code(exc: BaseException) -> str | None:
    """The service's error code (e.g. 'AuthenticationFailed'), wherever the SDK put it."""
    for holder in (getattr(exc, "model", None), getattr(exc, "error", None)):
        code = getattr(holder, "code", None)
        if code:
            return _text(code)
    code = getattr(exc, "error_code", None)
    if code:
        return _text(code)
    response = getattr(exc, "response", None)
    if response is None:
        return None
    header = response.headers.get("x-ms-error-code") if response.headers else None
    if header:
        return str(header)
    try:
        body = json.loads(response.text() or "{}")
    except Exception:
        return None
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("code"):
            return str(inner["code"])
    return None


def _text(code: object) -> str:
    """Storage codes arrive as enums (StorageErrorCode.AUTHENTICATION_FAILED): use the value."""
    return str(getattr(code, "value", code))


def status_code(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    if code is None:
        response = getattr(exc, "response", None)
        code = getattr(response, "status_code", None)
    return int(code) if code is not None else None


def _service_text(exc: BaseException) -> str:
    """Everything the service said, for spotting phrases such as 'Request date header too old'."""
    parts = [str(getattr(exc, "message", "") or ""), str(exc)]
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            parts.append(response.text() or "")
        except Exception:
            pass
    return "\n".join(parts)


def is_bad_key(exc: BaseException) -> bool:
    """The SDK could not sign a request because the account key is not base64.

    Batch raises the decoder's binascii.Error; storage wraps it in AzureSigningError. Any
    other ValueError (a malformed connection string, an SDK call used wrongly) is not about
    the key.
    """
    seen: BaseException | None = exc
    for _ in range(5):  # the chain of causes, a few deep
        if seen is None:
            return False
        if isinstance(seen, binascii.Error) or type(seen).__name__ == "AzureSigningError":
            return True
        seen = seen.__cause__ or seen.__context__
    return False


#: what must never reach a sentence: URL queries (SAS tokens), key=value secrets, keys
_SECRET_PATTERNS = (
    re.compile(r"(https?://[^\s?]*)\?\S*"),
    re.compile(r"(?i)\b(AccountKey|SharedAccessSignature|sig|key)=[^;&\s]*"),
    re.compile(r"[A-Za-z0-9+/]{40,}={0,2}"),
)


def redacted(text: str) -> str:
    """The text without URL queries, keys or signatures (SDK messages may quote them)."""
    text = _SECRET_PATTERNS[0].sub(r"\1", text)
    text = _SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)}=…", text)
    return _SECRET_PATTERNS[2].sub("…", text)


def first_line(text: str) -> str:
    """The service's message without its RequestId/Time trailer."""
    for line in str(text).splitlines():
        line = line.strip()
        if line and not line.startswith(("RequestId:", "Time:")):
            return line.rstrip(".") + "."
    return ""


def is_clock_skew(exc: BaseException) -> bool:
    text = _service_text(exc).lower()
    return "date header too old" in text or "time skew" in text or "clock skew" in text or (
        "requesttimeskew" in text
    )


def is_transient(exc: BaseException) -> bool:
    """True when waiting and asking again can help (network blips, 5xx, throttling)."""
    if isinstance(exc, ServiceResponseError):
        return True  # the connection broke after the request was sent
    if isinstance(exc, ServiceRequestError):
        return not _is_dns_failure(exc)
    if isinstance(exc, HttpResponseError):
        status = status_code(exc)
        if status is not None and (status >= 500 or status in (408, 429)):
            return True
        return error_code(exc) in TRANSIENT_CODES
    return isinstance(exc, (ConnectionError, TimeoutError))


def _is_dns_failure(exc: BaseException) -> bool:
    text = repr(exc).lower() + str(getattr(exc, "inner_exception", "")).lower()
    return any(
        phrase in text
        for phrase in (
            "name or service not known",
            "nodename nor servname",
            "getaddrinfo failed",
            "temporary failure in name resolution",
            "no address associated",
            "name resolution",
        )
    )


def _host(url: str | None) -> str:
    if not url:
        return "the server"
    return urlparse(url if "://" in url else "https://" + url).netloc or url


#: storage codes that, for an Entra ID sign-in, mean "your sign-in lacks the data role"
SIGNED_IN_REFUSED_CODES = {"AuthorizationPermissionMismatch", "AuthorizationFailure"}


def plain_error(
    exc: BaseException, service: str, url: str | None = None, *, signed_in: bool = False
) -> str:
    """One sentence for a user: `service` is 'batch' or 'storage', `url` the endpoint used.

    `signed_in`: storage was reached with an Entra ID sign-in, not the account key, so
    "refused" means a missing role on the storage account rather than a wrong key.
    """
    what = "Azure Batch" if service == "batch" else "Azure Storage"
    host = _host(url)
    if signed_in and service == "storage":
        sentence = _signed_in_storage_error(exc, host)
        if sentence:
            return sentence
    key_name = "Batch account key" if service == "batch" else "storage account key"
    where = (
        "Batch account > Keys in the Azure portal"
        if service == "batch"
        else "Storage account > Access keys in the Azure portal"
    )
    code = error_code(exc)
    status = status_code(exc)

    if is_bad_key(exc):
        return (
            f"The {key_name} is not valid (it should be the long key ending in '=='). "
            f"Copy it again from {where}."
        )
    if isinstance(exc, ValueError) and not isinstance(exc, AzureError):
        return _settings_error(exc, what)
    if isinstance(exc, ServiceRequestError) and not isinstance(exc, ServiceResponseError):
        if _is_dns_failure(exc):
            return (
                f"The {what} address {host} was not found. Check the account URL "
                "(copy it from the Azure portal) and your internet connection."
            )
        return (
            f"Could not connect to {what} at {host}. Check the account URL and your "
            "internet connection, then try again."
        )
    if isinstance(exc, ServiceResponseError):
        return (
            f"{what} at {host} did not answer properly (the connection broke). "
            "Try again in a few minutes."
        )
    if is_clock_skew(exc):
        return (
            f"{what} refused the request because this computer's clock is wrong. "
            "Turn on automatic date and time in your system settings, then try again."
        )
    if code == "KeyBasedAuthenticationNotPermitted":
        return (
            "The storage account does not allow access with account keys. Turn on "
            "'Allow storage account key access' (Storage account > Configuration) "
            "or use a storage account that allows it, or switch this account to "
            "Microsoft Entra ID sign-in in Settings."
        )
    bad_signature = "failed to authenticate" in _service_text(exc).lower()
    if code == "AuthorizationFailure" and not bad_signature:
        return (
            f"{what} at {host} refused access: the account's firewall or network rules "
            "block this computer, or the key lacks permission. Allow this network "
            "(Networking in the Azure portal) or use the account's access key."
        )
    if (
        bad_signature
        or code in ("AuthenticationFailed", "InvalidAuthenticationInfo", "AuthorizationFailure")
        or isinstance(exc, ClientAuthenticationError)
        or (status in (401, 403) and code is None)
    ):
        return (
            f"{what} did not accept the {key_name}. Copy the key again from {where} "
            "(it may have been regenerated) and check the account name."
        )
    if code == "AccountIsDisabled" or code == "AccountDisabled":
        return f"The {what} account is disabled. Enable it in the Azure portal."
    if code in QUOTA_CODES:
        return (
            f"The Batch account has reached a quota ({code}). Ask for a higher quota "
            "(Batch account > Quotas in the Azure portal), use fewer or smaller nodes, "
            "or delete pools you no longer need."
        )
    if code in ("JobNotFound", "PoolNotFound", "ContainerNotFound"):
        thing = {"JobNotFound": "job", "PoolNotFound": "pool"}.get(code, "storage container")
        return (
            f"The run's {thing} is gone from the account (deleted outside BatchGUI?). "
            "Start the run again."
        )
    if code in ("ContainerBeingDeleted",):
        return "The storage container is being deleted. Wait a minute and try again."
    if status == 404 and code in (None, "ResourceNotFound", "AccountNotFound"):
        return (
            f"{what} at {host} answered 'not found'. Check the account URL and name "
            "in the Azure portal."
        )
    if status is not None and (status >= 500 or status == 429):
        return f"{what} is having trouble right now ({code or status}). Try again in a few minutes."
    detail = first_line(redacted(getattr(exc, "message", None) or str(exc)))
    if code:
        return f"{what} refused the request ({code}): {detail}".rstrip(": ")
    return f"{what} failed: {detail or type(exc).__name__}"


def _settings_error(exc: ValueError, what: str) -> str:
    """A ValueError raised on this computer before any request: the settings, not the key."""
    detail = first_line(redacted(str(exc))) or f"{type(exc).__name__}."
    if "connection string" in detail.lower():
        return (
            f"The storage connection string is not valid: {detail} Copy it again from "
            "Storage account > Access keys > Connection string in the Azure portal."
        )
    return f"{what} could not be used with these settings: {detail}"


def _signed_in_storage_error(exc: BaseException, host: str) -> str | None:
    """Storage errors that read differently when the user signed in with Entra ID."""
    if isinstance(exc, (binascii.Error, ValueError)) and not isinstance(exc, AzureError):
        detail = first_line(redacted(str(exc))) or "bad value"
        return (
            f"The storage settings are not valid ({detail}). "
            "Check the storage account name and blob endpoint of this account."
        )
    if isinstance(exc, ServiceRequestError) or is_clock_skew(exc):
        return None  # not about who is signed in: the usual sentences fit
    code = error_code(exc)
    if code in SIGNED_IN_REFUSED_CODES:
        firewall = (
            " If you have that role already, the storage account's firewall may block this "
            "computer: allow this network (Networking in the Azure portal)."
            if code == "AuthorizationFailure" else ""
        )
        return (
            f"Your Entra ID sign-in may not read and write blobs in the storage account at "
            f"{host}. Ask the account's owner to give you the 'Storage Blob Data "
            "Contributor' role on it (Storage account > Access control (IAM) > Add role "
            "assignment in the Azure portal), then try again; a new role takes a few "
            f"minutes to apply.{firewall}"
        )
    status = status_code(exc)
    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "response", None) is None:
        # azure-identity itself: the sign-in did not happen (closed browser, no tenant ...)
        reason = first_line(redacted(getattr(exc, "message", None) or str(exc)))
        return (
            "Signing in with Entra ID did not work, so storage could not be reached: "
            f"{reason or 'no reason given.'} "
            "Try again, and check the tenant set for this account."
        )
    if (
        code in ("AuthenticationFailed", "InvalidAuthenticationInfo")
        or isinstance(exc, ClientAuthenticationError)
        or (status in (401, 403) and code is None)
    ):
        return (
            f"Azure Storage at {host} did not accept your Entra ID sign-in. Sign in again, "
            "and check that the storage account belongs to the tenant set for this account."
        )
    return None


#: resize error codes and what to tell the user
_RESIZE_ADVICE = {
    "AccountCoreQuotaReached": (
        "the Batch account's dedicated core quota is used up. Ask for more cores "
        "(Batch account > Quotas), or choose fewer or smaller nodes"
    ),
    "AccountLowPriorityCoreQuotaReached": (
        "the Batch account's Spot core quota is used up. Ask for more Spot cores "
        "(Batch account > Quotas), or use dedicated nodes"
    ),
    "AccountSpotCoreQuotaReached": (
        "the Batch account's Spot core quota is used up. Ask for more Spot cores "
        "(Batch account > Quotas), or use dedicated nodes"
    ),
    "AccountVMSeriesCoreQuotaReached": (
        "the Batch account's quota for this VM series is used up. Ask for more "
        "(Batch account > Quotas), or choose another VM size"
    ),
    "AllocationFailed": (
        "Azure has no capacity for this VM size in the region right now. Try another "
        "VM size, dedicated instead of Spot nodes, or try again later"
    ),
    "AllocationTimedout": (
        "Azure could not find the nodes in time. Try again, or choose another VM size"
    ),
    "OverconstrainedAllocationRequest": (
        "Azure has no capacity for this VM size in the region right now. Try another "
        "VM size or try again later"
    ),
}


def resize_error_sentence(code: str | None, message: str | None) -> str:
    """A pool resize error (quota, no Spot capacity) in plain words."""
    advice = _RESIZE_ADVICE.get(code or "")
    if advice:
        return f"The pool could not get its nodes: {advice}."
    detail = first_line(message or "") or "no details given"
    return f"The pool could not get its nodes ({code or 'unknown error'}): {detail}"
