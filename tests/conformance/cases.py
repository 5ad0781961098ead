"""How each recorded exchange is staged, sent and compared (see replay.py for the tools)."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from tests.conformance.replay import ECHOED, JOB_STATES, STATE_DEPENDENT, Raw, Stage, q

SKIP_REASON_SKIPTOKEN = "a service-issued $skiptoken is opaque and cannot be replayed"


def segments(rec: dict[str, Any]) -> dict[str, str]:
    """The path parameters of a recording, from its template."""
    names = rec["path_template"].strip("/").split("/")
    parts = rec["path"].strip("/").split("/")
    out: dict[str, str] = {}
    for i, n in enumerate(names):
        if n.startswith("{") and i < len(parts):
            key = n[1:-1]
            out[key] = urllib.parse.unquote("/".join(parts[i:]) if key == "filePath" else parts[i])
    return out


def _sets_noaction(rec: dict[str, Any]) -> bool:
    body = rec["request_body"] or {}
    value = body.get("onAllTasksComplete")
    return (value or "noaction").lower() == "noaction" if rec["method"] == "PUT" else (
        str(value).lower() == "noaction"
    )


def prepare(st: Stage, rec: dict[str, Any]) -> tuple[str, str | None]:
    """Set up state for rec; return (path to send, account override)."""
    t, method, status = rec["path_template"], rec["method"], rec["status"]
    p = segments(rec)
    body = rec["response_body"] if isinstance(rec["response_body"], dict) else {}
    req = rec["request_body"] if isinstance(rec["request_body"], dict) else {}
    path = rec["path"]
    account = None
    pool_id, job_id = p.get("poolId", ""), p.get("jobId", "")
    if t == "/pools":
        if method == "POST":
            if status == 201:
                st.ensure_no_pool(req["id"])
            elif status == 409:
                st.ensure_pool(req["id"])
        elif status == 200:
            for item in body.get("value", [])[:1]:
                st.ensure_pool(item["id"], recorded=item)
            st.ensure_pools(len(body.get("value", [])) + (1 if "odata.nextLink" in body else 0))
            flt = rec["query"].get("$filter", "")
            if flt.startswith("startswith(id,'"):
                st.ensure_pool(flt.split("'")[1] + "conformance")
    elif t == "/pools/{poolId}":
        if status == 404:
            st.ensure_no_pool(pool_id)
        elif method == "GET" and body.get("state") == "deleting":
            st.ensure_deleting_pool(pool_id, body)
        else:
            st.ensure_pool(pool_id, recorded=body or None)
    elif t == "/pools/{poolId}/resize":
        if status == 404 or (status == 400 and not req):
            st.ensure_no_pool(pool_id)
        else:
            st.ensure_pool(pool_id, autoscale=False)
    elif t in ("/pools/{poolId}/evaluateautoscale", "/pools/{poolId}/disableautoscale"):
        st.ensure_pool(pool_id, autoscale=True)
    elif t.startswith("/pools/{poolId}/"):
        if t == "/pools/{poolId}/nodes":
            count = len(body.get("value", []))
            st.ensure_pool(pool_id, nodes=count, autoscale=False if count else None)
        elif t == "/pools/{poolId}/nodes/{nodeId}":
            path = f"/pools/{q(pool_id)}/nodes/{st.node_id(pool_id)}"
        else:  # enableautoscale, stopresize, updateproperties
            st.ensure_pool(pool_id)
    elif t == "/nodecounts":
        st.ensure_pools(max(1, len(body.get("value", []))))
    elif t == "/jobs":
        if method == "POST":
            if status == 201:
                st.ensure_no_job(req["id"])
            elif status == 409:
                st.ensure_job(req["id"])
        else:
            st.ensure_jobs(len(body.get("value", [])))
    elif t == "/jobs/{jobId}":
        cur = st.job(job_id)
        if status == 404:
            st.ensure_no_job(job_id)
        elif method == "GET" and body.get("state") in JOB_STATES:
            st.ensure_job_state(job_id, body["state"], body)
        elif method in ("PATCH", "PUT"):
            usable = cur is not None and cur["state"] in ("active", "disabled")
            if not usable or (_sets_noaction(rec) and cur["onAllTasksComplete"] == "terminatejob"):
                st.ensure_job(job_id, noaction=True)
        elif cur is None or cur["state"] == "deleting":
            st.ensure_job(job_id, recorded=body or None)
    elif t in ("/jobs/{jobId}/disable", "/jobs/{jobId}/terminate"):
        st.ensure_job(job_id)
    elif t == "/jobs/{jobId}/enable":
        st.ensure_job_state(job_id, "disabled", {})
    elif t == "/jobs/{jobId}/taskcounts":
        if st.job(job_id) is None:
            st.ensure_job(job_id)
    elif t == "/jobs/{jobId}/addtaskcollection":
        st.ensure_job(job_id)
        for item in req["value"]:
            st.ensure_no_task(job_id, item["id"])
        if status == 403:
            detail = json.dumps(rec["response_body"])
            if "claimed account" in detail:
                account = detail.split("for the account ")[1].split(".")[0]
    elif t == "/jobs/{jobId}/tasks":
        if method == "POST":
            st.ensure_job(job_id)
            st.ensure_no_task(job_id, req["id"])
        else:
            items = body.get("value", [])
            done = any(i.get("state") == "completed" for i in items) or "completed" in rec[
                "query"
            ].get("$filter", "")
            for item in items:
                st.ensure_task(job_id, item["id"], recorded=item, completed=done)
    elif t in ("/jobs/{jobId}/tasks/{taskId}", "/jobs/{jobId}/tasks/{taskId}/terminate"):
        st.ensure_task(job_id, p["taskId"], recorded=body or None)
    elif t.startswith("/jobs/{jobId}/tasks/{taskId}/files"):
        st.ensure_task(job_id, p["taskId"], completed=True)
    return path, account


def compare(rec: dict[str, Any], status: int, headers: dict[str, str], got: Any) -> list[str]:
    problems = []
    if status != rec["status"]:
        problems.append(f"status {status} != recorded {rec['status']}: {str(got)[:300]}")
        return problems
    for name in rec["response_headers"]:
        if name.lower() == "content-type" and rec["method"] == "HEAD":
            continue
        if name.lower() not in headers:
            problems.append(f"missing header {name}")
    want = rec["response_body"]
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return problems + [f"expected a JSON object, got {str(got)[:200]}"]
        problems += _keys("", set(want), set(got))
        wv, gv = want.get("value"), got.get("value")
        if isinstance(wv, list) and isinstance(gv, list) and wv and gv and isinstance(wv[0], dict):
            same = [g for g in gv if "id" in wv[0] and g.get("id") == wv[0]["id"]]
            if same:
                problems += _keys("value[0].", set(wv[0]), set(same[0]))
            else:  # a different entity: properties echoed from its creation body may differ
                problems += _keys("value[0].", set(wv[0]) - ECHOED, set(gv[0]) - ECHOED)
        if "message" in want:
            value = got.get("message", {}).get("value", "")
            if "\nRequestId:" not in value or "\nTime:" not in value:
                problems.append("error message.value lacks RequestId/Time")
            if got.get("code") != want.get("code"):
                problems.append(f"code {got.get('code')} != recorded {want.get('code')}")
        problems += _state(rec, want, got)
        problems += _autoscale_error(want, got)
    elif want is None and rec["method"] != "HEAD" and got not in (b"", None):
        problems.append(f"expected no body, got {str(got)[:200]}")
    return problems


def _state(rec: dict[str, Any], want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """A job or pool the stage drove into a state must show that state."""
    if rec["method"] != "GET" or "$select" in rec["query"]:
        return []
    driven = {"/jobs/{jobId}": JOB_STATES, "/pools/{poolId}": ("active", "deleting")}
    states = driven.get(rec["path_template"], ())
    if want.get("state") in states and got.get("state") != want["state"]:
        return [f"state {got.get('state')} != recorded {want['state']}"]
    return []


def _autoscale_error(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """An AutoScaleRun error: same code, and its values use `name` (not `key`)."""
    if not isinstance(want.get("error"), dict):
        return []
    err = got.get("error")
    if not isinstance(err, dict):
        return ["AutoScaleRun has no error"]
    out = []
    if err.get("code") != want["error"].get("code"):
        out.append(f"autoscale error code {err.get('code')} != {want['error'].get('code')}")
    if not err.get("values") or any(set(v) != {"name", "value"} for v in err["values"]):
        out.append(f"autoscale error values should be name/value pairs: {err.get('values')}")
    return out


def _keys(prefix: str, want: set[str], got: set[str]) -> list[str]:
    missing = {k for k in want - got if k not in STATE_DEPENDENT}
    extra = {k for k in got - want if k not in STATE_DEPENDENT}
    out = []
    if missing:
        out.append(f"{prefix}keys missing: {sorted(missing)}")
    if extra:
        out.append(f"{prefix}extra keys: {sorted(extra)}")
    return out


def _skip_reason(rec: dict[str, Any], skip: dict[tuple[str, str, int], str]) -> str | None:
    """skip keys are (method or "*", path template or "prefix*", status or 0 for any)."""
    for (method, template, status), reason in skip.items():
        if method not in ("*", rec["method"]) or status not in (0, rec["status"]):
            continue
        t = rec["path_template"]
        if template == t or (template.endswith("*") and t.startswith(template[:-1])):
            return reason
    return None


def replay(
    raw: Raw, recs: list[dict[str, Any]], skip: dict[tuple[str, str, int], str]
) -> tuple[int, list[tuple[int, str]], list[str]]:
    """(replayed, skipped [(line, reason)], failures) for one recordings file."""
    stage = Stage(raw, recs)
    replayed, skipped, failures = 0, [], []
    for i, rec in enumerate(recs):
        reason = _skip_reason(rec, skip)
        if "$skiptoken" in rec["query"]:
            reason = SKIP_REASON_SKIPTOKEN
        if reason:
            skipped.append((i, reason))
            continue
        path, account = prepare(stage, rec)
        status, headers, got = raw.call(
            rec["method"], path, rec["query"], rec["request_body"], account=account
        )
        problems = compare(rec, status, headers, got)
        if problems:
            failures.append(f"#{i} {rec['method']} {rec['path']} ({rec['source']}): {problems}")
        else:
            replayed += 1
    return replayed, skipped, failures
