"""Set up a private environment for BatchGUI and open the app, run the tests, or bundle it.

    python3 packaging/bootstrap.py app     # set up, then open the window (This computer)
    python3 packaging/bootstrap.py test    # set up, then run the whole test suite
    python3 packaging/bootstrap.py bundle  # set up, then build dist/BatchGUI and its tarball

Only the standard library is used here, so it runs on a machine that has nothing
but Python 3.11+. It creates `.venv` beside pyproject.toml, installs BatchGUI into
it (with the test extra for `test`), compiles the translation catalogues when their
sources changed (packaging/catalogues.py, with Babel from the `i18n` extra), and on
Linux installs the few system
libraries Qt's window plugin needs when they are missing and it may (root + apt),
and a virtual screen (Xvfb) when there is no display. Extra arguments after `test`
go to pytest, after `app` to batchgui.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")

# Debian/Ubuntu packages behind the libraries Qt's xcb (X11) plugin loads.
XCB_PACKAGES = [
    "libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0", "libxcb-image0", "libxcb-randr0",
    "libxcb-render-util0", "libxcb-shape0", "libxcb-xfixes0", "libxcb-xkb1", "libxkbcommon-x11-0",
    "libxkbcommon0", "libegl1", "libgl1", "libfontconfig1", "libdbus-1-3", "fonts-dejavu-core",
]
# A real Secret Service for the keyring test (skipped where it can't be installed).
SECRET_SERVICE_PACKAGES = ["gnome-keyring", "dbus"]
# What the offscreen plugin (tests) needs.
OFFSCREEN_PACKAGES = ["libegl1", "libgl1", "libxkbcommon0", "libfontconfig1", "libdbus-1-3",
                      "libglib2.0-0"]
# A virtual screen for `app` on a machine without a display.
XVFB_PACKAGES = ["xvfb", "xauth"]
# Xvfb's screen: true colour, a laptop-sized desktop
XVFB_SCREEN = "-screen 0 1280x800x24"
# Building the bundle: ICU's icupkg and a C toolchain trim Qt's ICU data (packaging/trim_icu.py).
BUNDLE_TOOLS = {"icupkg": "icu-devtools", "gcc": "gcc", "nm": "binutils", "readelf": "binutils"}
# The bundle's tests check the desktop files with the freedesktop.org validators.
VALIDATORS = {"desktop-file-validate": "desktop-file-utils", "appstreamcli": "appstream"}


def say(text: str) -> None:
    print(f"[batchgui setup] {text}", flush=True)


def run(argv: list[str], **kwargs: object) -> None:
    subprocess.run(argv, check=True, **kwargs)  # type: ignore[call-overload]


def ensure_venv(extra: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (this script may run on an old python3)
        sys.exit("BatchGUI needs Python 3.11 or newer: run this with python3.11.")
    if not PYTHON.exists():
        say(f"creating {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed{extra}"
    pyproject = ROOT / "pyproject.toml"
    if not (stamp.exists() and stamp.stat().st_mtime >= pyproject.stat().st_mtime):
        say("installing BatchGUI and its libraries (first time only)")
        run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}{extra}"])
        stamp.touch()
    # the editable install reads the checkout's catalogues: compiled whenever a .po changed
    run([str(PYTHON), str(ROOT / "packaging" / "catalogues.py"), "compile", "--if-stale"])


def missing_qt_libraries(plugin: str) -> list[str]:
    """Shared libraries a Qt platform plugin needs that this Linux system lacks."""
    if not sys.platform.startswith("linux") or not shutil.which("ldd"):
        return []
    found = subprocess.run(
        [str(PYTHON), "-c",
         "import PySide6, pathlib; print(pathlib.Path(PySide6.__file__).parent)"],
        capture_output=True, text=True,
    ).stdout.strip()
    if not found:
        return []
    plugin_path = Path(found) / "Qt" / "plugins" / "platforms" / f"libq{plugin}.so"
    if not plugin_path.exists():
        return []
    out = subprocess.run(["ldd", str(plugin_path)], capture_output=True, text=True).stdout
    # ldd names a missing library once per library that needs it: each name once here
    return list(dict.fromkeys(line.split()[0] for line in out.splitlines() if "not found" in line))


def can_apt() -> bool:
    return bool(shutil.which("apt-get")) and hasattr(os, "geteuid") and os.geteuid() == 0


def apt_install(packages: list[str]) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env)


def ensure_secret_service() -> None:
    """gnome-keyring + dbus let one test store keys in a real Secret Service."""
    if shutil.which("gnome-keyring-daemon") and shutil.which("dbus-run-session"):
        return
    if can_apt():
        say("installing gnome-keyring and dbus for the keyring test")
        try:
            apt_install(SECRET_SERVICE_PACKAGES)
        except subprocess.CalledProcessError:
            say("could not install them: the Secret Service test will be skipped")


def ensure_tools(tools: dict[str, str], purpose: str) -> bool:
    """Commands (name -> Debian package) installed with apt as root when missing."""
    missing = {cmd: pkg for cmd, pkg in tools.items() if not shutil.which(cmd)}
    if not missing:
        return True
    packages = list(dict.fromkeys(missing.values()))
    if can_apt():
        say(f"installing {', '.join(packages)} {purpose}")
        try:
            apt_install(packages)
            return True
        except subprocess.CalledProcessError:
            pass
    say(f"{', '.join(missing)} not found {purpose}: install {' '.join(packages)} "
        "with your package manager")
    return False


def ensure_system_libraries(plugin: str, packages: list[str]) -> None:
    missing = missing_qt_libraries(plugin)
    if not missing:
        return
    if can_apt():
        say("installing system libraries Qt needs: " + ", ".join(missing))
        apt_install(packages)
        return
    say("Qt needs these system libraries, which are missing: " + ", ".join(missing))
    say("install them with your package manager (on Debian/Ubuntu: sudo apt-get install "
        + " ".join(packages) + ")")


def app(args: list[str]) -> int:
    ensure_venv("[i18n]")
    ensure_system_libraries("xcb", XCB_PACKAGES)
    argv = [str(BIN / "batchgui"), *args]
    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if headless:
        if not (shutil.which("xvfb-run") and shutil.which("xauth")) and can_apt():
            say("no screen found: installing a virtual screen (Xvfb) to show the window on")
            try:
                apt_install(XVFB_PACKAGES)
            except subprocess.CalledProcessError:
                pass
        if not (shutil.which("xvfb-run") and shutil.which("xauth")):
            say("BatchGUI is a desktop app and no screen was found (DISPLAY is not set): "
                "start it from a desktop session, or install xvfb and xauth to show it on a "
                "virtual screen.")
            return 1
        say("no screen found: showing the window on a virtual screen (Xvfb)")
        argv = ["xvfb-run", "-a", "-s", XVFB_SCREEN, *argv]
    say("opening BatchGUI")
    return subprocess.call(argv)


def test(args: list[str]) -> int:
    ensure_venv("[test]")
    ensure_system_libraries("offscreen", OFFSCREEN_PACKAGES)
    ensure_secret_service()
    if sys.platform.startswith("linux"):
        # the bundle's tests build it (with the X11 libraries it ships) and validate its
        # desktop files
        ensure_system_libraries("xcb", XCB_PACKAGES)
        ensure_tools({**BUNDLE_TOOLS, **VALIDATORS}, "for the bundle's tests")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    code = subprocess.call([str(PYTHON), "-m", "pytest", *args], cwd=ROOT, env=env)
    if code == 5:  # pytest found no tests: that must never look like a pass
        say("pytest collected no tests")
        return 1
    return code


def bundle(args: list[str]) -> int:
    ensure_venv("[bundle]")
    if sys.platform.startswith("linux"):
        # the X11 libraries Qt needs are shipped in the bundle: they must be here first
        ensure_system_libraries("xcb", XCB_PACKAGES)
        ensure_tools(BUNDLE_TOOLS, "to trim the bundle's ICU data")
    return subprocess.call([str(PYTHON), str(ROOT / "packaging" / "bundle.py"), *args], cwd=ROOT)


def main() -> int:
    commands = {"app": app, "test": test, "bundle": bundle}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
