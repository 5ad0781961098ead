"""python -m tests.batch_emulator --host 127.0.0.1 --port 0 --account NAME --key KEY [knobs]

Prints the base URL on the first line of stdout, then serves until killed (SIGTERM/SIGINT
stop every task process it started first). With --tls-cert/--tls-key it serves https;
with --entra-jwks it also accepts Entra ID bearer tokens signed by those keys.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
from dataclasses import fields

from .server import make_server
from .world import Knobs


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.batch_emulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--account", required=True)
    p.add_argument("--key", required=True, help="base64 account key")
    p.add_argument("--root", help="where node directories live (default: a temp dir)")
    p.add_argument(
        "--path-dir",
        action="append",
        default=[],
        help="extra PATH entry for task processes (repeatable), e.g. a dir holding ffmpeg",
    )
    p.add_argument("--tls-cert", help="PEM certificate: serve https")
    p.add_argument("--tls-key", help="PEM private key of --tls-cert")
    p.add_argument("--entra-jwks", help="JWKS file of the Entra ID issuer whose tokens count")
    for f in fields(Knobs):
        flag = "--" + f.name.replace("_", "-")
        kind = str(f.type)
        if kind == "bool":
            p.add_argument(flag, action="store_true", default=f.default)
        elif kind.startswith("int"):
            p.add_argument(flag, type=int, default=f.default)
        else:
            p.add_argument(flag, type=float, default=f.default)
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("give both --tls-cert and --tls-key, or neither")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    knobs = Knobs(**{f.name: getattr(args, f.name) for f in fields(Knobs)})
    own_root = args.root is None
    root = args.root or tempfile.mkdtemp(prefix="batch-emulator-")
    os.makedirs(root, exist_ok=True)
    server = make_server(
        args.host, args.port, args.account, args.key, root, path_dirs=args.path_dir, knobs=knobs,
        tls=(args.tls_cert, args.tls_key) if args.tls_cert else None,
        entra_jwks=args.entra_jwks,
    )
    stopping = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        if stopping.is_set():
            return
        stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(server.url, flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.world.shutdown()
        server.server_close()
        if own_root:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
