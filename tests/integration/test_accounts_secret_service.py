"""A profile's keys through a real Secret Service (gnome-keyring on a private D-Bus),
and what a locked one looks like.

The check runs in a child process under `dbus-run-session`, with gnome-keyring-daemon
unlocked by a throwaway password, so nothing touches the user's own keyring.
Needs the Debian packages gnome-keyring and dbus (dbus-run-session) and the PyPI
packages secretstorage and jeepney (keyring's SecretService backend).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import json, sys
    import keyring, secretstorage
    from keyring.backends import SecretService
    from batchgui import accounts
    from tests.unit.test_accounts import KEYS, work_profile

    keyring.set_keyring(SecretService.Keyring())
    out = {"backend": type(keyring.get_keyring()).__module__}
    accounts.save_profile(work_profile(), KEYS)
    accounts.secrets = accounts.SecretStore()  # nothing from this session's memory
    account, _ = accounts.load_account("work")
    out["read_back"] = [account.batch_key == KEYS.batch_key,
                        account.storage_key == KEYS.storage_key]

    bus = secretstorage.dbus_init()
    def stored(user):
        items = secretstorage.search_items(bus, {"service": "batchgui", "username": user})
        return [item.get_secret().decode() for item in items]
    out["in_secret_service"] = stored("work/batch-key") == [KEYS.batch_key]
    out["config"] = accounts.profiles_path().read_text()

    accounts.remove_profile("work")
    out["after_remove"] = stored("work/batch-key") + stored("work/storage-key")

    # a locked keyring (no prompter can unlock it here): a plain "locked", then session-only
    secretstorage.get_default_collection(bus).lock()
    try:
        accounts.save_profile(work_profile(), KEYS)
        out["locked"] = "saved anyway"
    except accounts.KeyringUnavailable as exc:
        out["locked"] = exc.reason
        out["locked_message"] = str(exc)
    accounts.save_profile(work_profile(), KEYS, session_only=True)
    out["session_only"] = accounts.load_account("work")[0].batch_key == KEYS.batch_key
    json.dump(out, sys.stdout)
    """
)


def _missing() -> str | None:
    for tool in ("gnome-keyring-daemon", "dbus-run-session"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install gnome-keyring dbus)"
    try:
        import jeepney  # noqa: F401
        import secretstorage  # noqa: F401
    except ImportError:
        return "secretstorage/jeepney are not installed (keyring's SecretService backend)"
    return None


def in_ci() -> bool:
    """CI sets CI (to 'true'; .ci/run makes sure it is set)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.mark.timeout(120)
def test_a_profiles_keys_go_through_a_real_secret_service(tmp_path: Path) -> None:
    from tests.unit.test_accounts import BATCH_KEY, STORAGE_KEY

    missing = _missing()
    if missing is not None:
        if in_ci():  # CI installs these (packaging/bootstrap.py): a skip there hides a failure
            pytest.fail(f"CI must run the Secret Service test, but {missing}")
        pytest.skip(missing)

    home = tmp_path / "home"
    runtime = tmp_path / "run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(runtime),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
    )
    env.pop("PYTHON_KEYRING_BACKEND", None)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    inner = (
        'echo throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null && '
        f'exec "{sys.executable}" "{script}"'
    )
    proc = subprocess.run(
        ["dbus-run-session", "--", "bash", "-c", inner],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=90,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["backend"] == "keyring.backends.SecretService"
    assert out["read_back"] == [True, True]
    assert out["in_secret_service"] is True
    assert BATCH_KEY not in out["config"] and STORAGE_KEY not in out["config"]
    assert out["after_remove"] == []
    assert out["locked"] == "locked" and "Unlock it" in out["locked_message"]
    assert out["session_only"] is True
