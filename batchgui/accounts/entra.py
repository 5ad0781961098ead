"""Microsoft Entra ID sign-in for accounts whose shared keys are turned off.

A browser opens to sign in; where none can, a device code is shown (on stderr in the CLI,
in the dialog in the window). One credential per profile and tenant for the session, so
the user signs in once; the token cache lives in memory only.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from batchgui.i18n import tr

if TYPE_CHECKING:
    from batchgui.accounts.profile import Profile

_credentials: dict[tuple[str, str], object] = {}
_credentials_lock = threading.Lock()


def _print_prompt(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


#: how the device-code fallback shows its instructions; the window replaces it
sign_in_prompt: Callable[[str], None] = _print_prompt


def entra_credential(
    profile: Profile, prompt: Callable[[str], None] | None = None
) -> object:
    """A TokenCredential: browser sign-in first, device code when no browser can open.

    One credential per profile and tenant for the whole session, so the user signs in
    once. The token cache lives in memory only.
    """
    from azure.identity import (
        ChainedTokenCredential,
        DeviceCodeCredential,
        InteractiveBrowserCredential,
    )

    key = (profile.name, profile.tenant_id)
    with _credentials_lock:
        cached = _credentials.get(key)
        if cached is not None:
            return cached

        def show(verification_uri: str, user_code: str, expires_on: Any) -> None:
            message = tr("To sign in to Azure for '{name}', open {address} and enter the code "
                         "{code}.", name=profile.name, address=verification_uri, code=user_code)
            (prompt or sign_in_prompt)(message)

        kwargs: dict[str, Any] = {}
        if profile.tenant_id.strip():
            kwargs["tenant_id"] = profile.tenant_id.strip()
        credential = ChainedTokenCredential(
            InteractiveBrowserCredential(**kwargs),
            DeviceCodeCredential(prompt_callback=show, **kwargs),
        )
        _credentials[key] = credential
        return credential


def forget_credentials(name: str | None = None) -> None:
    """Drop cached Entra sign-ins (of one profile, or all)."""
    with _credentials_lock:
        for key in [k for k in _credentials if name is None or k[0] == name]:
            del _credentials[key]
