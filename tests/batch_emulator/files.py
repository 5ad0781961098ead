"""Routes for task and node files: list, HEAD (properties), GET (with ocp-range), DELETE."""

from __future__ import annotations

import datetime as _dt
import mimetypes
import os
import re
import shutil
import urllib.parse
from typing import Any

from .routing import Response, RouteHelpers, route
from .util import BatchApiError, iso, rfc1123

FILE_NOT_FOUND = ("FileNotFound", "The specified file does not exist.")


def file_route(prefix: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", prefix) + "/files/(?P<path>.+)$")


TASK_FILE = file_route("/jobs/{jobId}/tasks/{taskId}")
NODE_FILE = file_route("/pools/{poolId}/nodes/{nodeId}")


def _from_ts(ts: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(ts, _dt.UTC)


def _content_type(path: str) -> str:
    if path.endswith(".txt"):
        return "text/plain"
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def list_files(root: str | None, url: str, query: dict[str, str]) -> list[dict[str, Any]]:
    """File listings: contentLength is a string, as recorded."""
    if not root or not os.path.isdir(root):
        return []
    recursive = query.get("recursive", "false").lower() == "true"
    out = []
    entries: list[str] = []
    if recursive:
        for dirpath, dirnames, filenames in os.walk(root):
            for n in sorted(dirnames) + sorted(filenames):
                entries.append(os.path.relpath(os.path.join(dirpath, n), root))
    else:
        entries = sorted(os.listdir(root))
    for rel in sorted(entries):
        full = os.path.join(root, rel)
        name = rel.replace(os.sep, "/")
        item: dict[str, Any] = {
            "name": name,
            "url": f"{url}/{name}",
            "isDirectory": os.path.isdir(full),
        }
        if not item["isDirectory"]:
            st = os.stat(full)
            item["properties"] = {
                "creationTime": iso(_from_ts(st.st_ctime)),
                "lastModified": iso(_from_ts(st.st_mtime)),
                "contentLength": str(st.st_size),
                "contentType": _content_type(full),
                "fileMode": f"0{st.st_mode:o}",
            }
        out.append(item)
    return out


class FileRoutes(RouteHelpers):
    headers: Any  # the request's headers (BaseHTTPRequestHandler)

    @route("GET", "/jobs/{jobId}/tasks/{taskId}/files")
    def list_task_files(
        self, query: dict[str, str], body: Any, jobId: str, taskId: str
    ) -> Response:
        with self.world.lock:
            root = self._task(jobId, taskId).task_dir
        url = f"{self.base}/jobs/{jobId}/tasks/{taskId}/files"
        items = list_files(root, url, query)
        return self._page(f"/jobs/{jobId}/tasks/{taskId}/files", query, items, "files")

    def task_file(
        self, query: dict[str, str], body: Any, jobId: str, taskId: str, path: str
    ) -> Response:
        with self.world.lock:
            root = self._task(jobId, taskId).task_dir
        if not root:
            raise BatchApiError(404, *FILE_NOT_FOUND)
        return self._file(
            root, path, f"{self.base}/jobs/{jobId}/tasks/{taskId}/files/{path}", query
        )

    @route("GET", "/pools/{poolId}/nodes/{nodeId}/files")
    def list_node_files(
        self, query: dict[str, str], body: Any, poolId: str, nodeId: str
    ) -> Response:
        with self.world.lock:
            root = self.world.find_node(poolId, nodeId).root
        url = f"{self.base}/pools/{poolId}/nodes/{nodeId}/files"
        return self._page(
            f"/pools/{poolId}/nodes/{nodeId}/files", query, list_files(root, url, query), "files"
        )

    def node_file(
        self, query: dict[str, str], body: Any, poolId: str, nodeId: str, path: str
    ) -> Response:
        with self.world.lock:
            root = self.world.find_node(poolId, nodeId).root
        return self._file(
            root, path, f"{self.base}/pools/{poolId}/nodes/{nodeId}/files/{path}", query
        )

    def _file(self, root: str, rel: str, url: str, query: dict[str, str]) -> Response:
        full = os.path.normpath(os.path.join(root, rel))
        inside = full == root or full.startswith(root.rstrip(os.sep) + os.sep)
        if not inside or not os.path.exists(full):
            raise BatchApiError(404, *FILE_NOT_FOUND)
        if self.command == "DELETE":
            if os.path.isdir(full):
                if query.get("recursive", "false").lower() != "true" and os.listdir(full):
                    raise BatchApiError(409, "DirectoryNotEmpty", "The directory is not empty.")
                shutil.rmtree(full, ignore_errors=True)
            else:
                os.remove(full)
            return Response(200)
        st = os.stat(full)
        isdir = os.path.isdir(full)
        headers = {
            "Content-Type": _content_type(full),
            "Last-Modified": rfc1123(_from_ts(st.st_mtime)),
            "ocp-creation-time": rfc1123(_from_ts(st.st_ctime)),
            "ocp-batch-file-isdirectory": "True" if isdir else "False",
            "ocp-batch-file-url": urllib.parse.quote(url, safe=""),
            "ocp-batch-file-mode": f"0{st.st_mode:o}",
        }
        if isdir:
            return Response(200, headers=headers, raw=b"")
        with open(full, "rb") as fh:
            data = fh.read()
        rng = self.headers.get("ocp-range")
        if rng:
            m = re.match(r"bytes=(\d*)-(\d*)", rng)
            if m:
                a = int(m.group(1) or 0)
                b = int(m.group(2)) + 1 if m.group(2) else len(data)
                data = data[a:b]
        if self.command == "HEAD":
            headers["Content-Length"] = str(len(data))
            return Response(200, headers=headers)
        return Response(200, headers=headers, raw=data)
