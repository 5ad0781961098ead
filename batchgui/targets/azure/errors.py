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

from batchgui.i18n import N_, Reason, _, why

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
    for _depth in range(5):  # the chain of causes, a few deep
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
        return _("the server")
    return urlparse(url if "://" in url else "https://" + url).netloc or url


#: storage codes that, for an Entra ID sign-in, mean "your sign-in lacks the data role"
SIGNED_IN_REFUSED_CODES = {"AuthorizationPermissionMismatch", "AuthorizationFailure"}


def plain_error(
    exc: BaseException, service: str, url: str | None = None, *, signed_in: bool = False
) -> Reason:
    """One sentence for a user: `service` is 'batch' or 'storage', `url` the endpoint used.

    `signed_in`: storage was reached with an Entra ID sign-in, not the account key, so
    "refused" means a missing role on the storage account rather than a wrong key.
    """
    batch = service == "batch"
    what = "Azure Batch" if batch else "Azure Storage"
    host = _host(url)
    if signed_in and not batch:
        sentence = _signed_in_storage_error(exc, host)
        if sentence:
            return sentence
    code = error_code(exc)
    status = status_code(exc)

    if is_bad_key(exc):
        if batch:
            return why("batch_key_invalid", "The Batch account key is not valid (it should be "
                       "the long key ending in '=='). Copy it again from Batch account > Keys "
                       "in the Azure portal.")
        return why("storage_key_invalid", "The storage account key is not valid (it should be "
                   "the long key ending in '=='). Copy it again from Storage account > Access "
                   "keys in the Azure portal.")
    if isinstance(exc, ValueError) and not isinstance(exc, AzureError):
        return _settings_error(exc, what)
    if isinstance(exc, ServiceRequestError) and not isinstance(exc, ServiceResponseError):
        if _is_dns_failure(exc):
            return why("address_not_found", "The {service} address {host} was not found. "
                       "Check the account URL (copy it from the Azure portal) and your "
                       "internet connection.", service=what, host=host)
        return why("cannot_connect", "Could not connect to {service} at {host}. Check the "
                   "account URL and your internet connection, then try again.", service=what,
                   host=host)
    if isinstance(exc, ServiceResponseError):
        return why("connection_broke", "{service} at {host} did not answer properly (the "
                   "connection broke). Try again in a few minutes.", service=what, host=host)
    if is_clock_skew(exc):
        return why("clock_wrong", "{service} refused the request because this computer's clock "
                   "is wrong. Turn on automatic date and time in your system settings, then "
                   "try again.", service=what)
    if code == "KeyBasedAuthenticationNotPermitted":
        return why("key_access_not_allowed", "The storage account does not allow access with "
                   "account keys. Turn on 'Allow storage account key access' (Storage account "
                   "> Configuration) or use a storage account that allows it, or switch this "
                   "account to Microsoft Entra ID sign-in in Settings.")
    bad_signature = "failed to authenticate" in _service_text(exc).lower()
    if code == "AuthorizationFailure" and not bad_signature:
        return why("access_blocked", "{service} at {host} refused access: the account's "
                   "firewall or network rules block this computer, or the key lacks "
                   "permission. Allow this network (Networking in the Azure portal) or use the "
                   "account's access key.", service=what, host=host)
    if (
        bad_signature
        or code in ("AuthenticationFailed", "InvalidAuthenticationInfo", "AuthorizationFailure")
        or isinstance(exc, ClientAuthenticationError)
        or (status in (401, 403) and code is None)
    ):
        if batch:
            return why("batch_key_rejected", "Azure Batch did not accept the Batch account key. "
                       "Copy the key again from Batch account > Keys in the Azure portal (it "
                       "may have been regenerated) and check the account name.")
        return why("storage_key_rejected", "Azure Storage did not accept the storage account "
                   "key. Copy the key again from Storage account > Access keys in the Azure "
                   "portal (it may have been regenerated) and check the account name.")
    if code == "AccountIsDisabled" or code == "AccountDisabled":
        return why("account_disabled", "The {service} account is disabled. Enable it in the "
                   "Azure portal.", service=what)
    if code in QUOTA_CODES:
        return why("quota_reached", "The Batch account has reached a quota ({code}). Ask for a "
                   "higher quota (Batch account > Quotas in the Azure portal), use fewer or "
                   "smaller nodes, or delete pools you no longer need.", code=code)
    if code == "JobNotFound":
        return why("job_gone", "The run's job is gone from the account (deleted outside "
                   "BatchGUI?). Start the run again.")
    if code == "PoolNotFound":
        return why("pool_gone", "The run's pool is gone from the account (deleted outside "
                   "BatchGUI?). Start the run again.")
    if code == "ContainerNotFound":
        return why("container_gone", "The run's storage container is gone from the account "
                   "(deleted outside BatchGUI?). Start the run again.")
    if code in ("ContainerBeingDeleted",):
        return why("container_being_deleted", "The storage container is being deleted. Wait a "
                   "minute and try again.")
    if status == 404 and code in (None, "ResourceNotFound", "AccountNotFound"):
        return why("not_found", "{service} at {host} answered 'not found'. Check the account "
                   "URL and name in the Azure portal.", service=what, host=host)
    if status is not None and (status >= 500 or status == 429):
        return why("service_trouble", "{service} is having trouble right now ({code}). Try "
                   "again in a few minutes.", service=what, code=code or str(status))
    detail = first_line(redacted(getattr(exc, "message", None) or str(exc)))
    if code:
        if detail:
            return why("service_refused", "{service} refused the request ({code}): {detail}",
                       service=what, code=code, detail=detail)
        return why("service_refused", "{service} refused the request ({code})", service=what,
                   code=code)
    return why("service_failed", "{service} failed: {detail}", service=what,
               detail=detail or type(exc).__name__)


def _settings_error(exc: ValueError, what: str) -> Reason:
    """A ValueError raised on this computer before any request: the settings, not the key."""
    detail = first_line(redacted(str(exc))) or f"{type(exc).__name__}."
    if "connection string" in detail.lower():
        return why("connection_string_invalid", "The storage connection string is not valid: "
                   "{detail} Copy it again from Storage account > Access keys > Connection "
                   "string in the Azure portal.", detail=detail)
    return why("settings_invalid", "{service} could not be used with these settings: {detail}",
               service=what, detail=detail)


def _signed_in_storage_error(exc: BaseException, host: str) -> Reason | None:
    """Storage errors that read differently when the user signed in with Entra ID."""
    if isinstance(exc, (binascii.Error, ValueError)) and not isinstance(exc, AzureError):
        detail = first_line(redacted(str(exc))) or _("bad value")
        return why("storage_settings_invalid", "The storage settings are not valid ({detail}). "
                   "Check the storage account name and blob endpoint of this account.",
                   detail=detail)
    if isinstance(exc, ServiceRequestError) or is_clock_skew(exc):
        return None  # not about who is signed in: the usual sentences fit
    code = error_code(exc)
    if code in SIGNED_IN_REFUSED_CODES:
        if code == "AuthorizationFailure":
            return why("storage_role_missing", "Your Entra ID sign-in may not read and write "
                       "blobs in the storage account at {host}. Ask the account's owner to give "
                       "you the 'Storage Blob Data Contributor' role on it (Storage account > "
                       "Access control (IAM) > Add role assignment in the Azure portal), then "
                       "try again; a new role takes a few minutes to apply. If you have that "
                       "role already, the storage account's firewall may block this computer: "
                       "allow this network (Networking in the Azure portal).", host=host)
        return why("storage_role_missing", "Your Entra ID sign-in may not read and write blobs "
                   "in the storage account at {host}. Ask the account's owner to give you the "
                   "'Storage Blob Data Contributor' role on it (Storage account > Access "
                   "control (IAM) > Add role assignment in the Azure portal), then try again; a "
                   "new role takes a few minutes to apply.", host=host)
    status = status_code(exc)
    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "response", None) is None:
        # azure-identity itself: the sign-in did not happen (closed browser, no tenant ...)
        said = first_line(redacted(getattr(exc, "message", None) or str(exc)))
        return why("sign_in_failed", "Signing in with Entra ID did not work, so storage could "
                   "not be reached: {detail} Try again, and check the tenant set for this "
                   "account.", detail=said or _("no reason given."))
    if (
        code in ("AuthenticationFailed", "InvalidAuthenticationInfo")
        or isinstance(exc, ClientAuthenticationError)
        or (status in (401, 403) and code is None)
    ):
        return why("sign_in_rejected", "Azure Storage at {host} did not accept your Entra ID "
                   "sign-in. Sign in again, and check that the storage account belongs to the "
                   "tenant set for this account.", host=host)
    return None


#: resize error codes and what to tell the user
_RESIZE_ADVICE = {
    "AccountCoreQuotaReached": N_(
        "The pool could not get its nodes: the Batch account's dedicated core quota is used "
        "up. Ask for more cores (Batch account > Quotas), or choose fewer or smaller nodes."
    ),
    "AccountLowPriorityCoreQuotaReached": N_(
        "The pool could not get its nodes: the Batch account's Spot core quota is used up. "
        "Ask for more Spot cores (Batch account > Quotas), or use dedicated nodes."
    ),
    "AccountSpotCoreQuotaReached": N_(
        "The pool could not get its nodes: the Batch account's Spot core quota is used up. "
        "Ask for more Spot cores (Batch account > Quotas), or use dedicated nodes."
    ),
    "AccountVMSeriesCoreQuotaReached": N_(
        "The pool could not get its nodes: the Batch account's quota for this VM series is "
        "used up. Ask for more (Batch account > Quotas), or choose another VM size."
    ),
    "AllocationFailed": N_(
        "The pool could not get its nodes: Azure has no capacity for this VM size in the "
        "region right now. Try another VM size, dedicated instead of Spot nodes, or try "
        "again later."
    ),
    "AllocationTimedout": N_(
        "The pool could not get its nodes: Azure could not find the nodes in time. Try "
        "again, or choose another VM size."
    ),
    "OverconstrainedAllocationRequest": N_(
        "The pool could not get its nodes: Azure has no capacity for this VM size in the "
        "region right now. Try another VM size or try again later."
    ),
}


def resize_error_sentence(code: str | None, message: str | None) -> Reason:
    """A pool resize error (quota, no Spot capacity) in plain words."""
    advice = _RESIZE_ADVICE.get(code or "")
    if advice:
        return why("pool_nodes_unavailable", advice, service_code=code)
    return why("pool_nodes_unavailable", "The pool could not get its nodes ({code}): {detail}",
               code=code or _("unknown error"),
               detail=first_line(message or "") or _("no details given"))
