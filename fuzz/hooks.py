"""Schemathesis hooks for the rk3s API fuzz: JSON bodies for the Kubernetes patch media types,
and a record of every response (status, and the full request for 5xx answers) written to the
NDJSON file named by RK3S_FUZZ_RECORD, so the driver can report exactly what broke the server."""

import json
import os
import sys
import threading
import time

import schemathesis

_LOCK = threading.Lock()
_RECORD = os.environ.get("RK3S_FUZZ_RECORD")
_BODY_LIMIT = 4000


# JSON is valid YAML, so one encoder serves every patch flavour (apply-patch+yaml included).
@schemathesis.serializer(
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
def _patch_as_json(ctx, value):
    return json.dumps(value).encode()


def _text(data, limit=_BODY_LIMIT):
    if data is None:
        return None
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    data = str(data)
    return data if len(data) <= limit else data[:limit] + "...(truncated)"


def _write(entry):
    if not _RECORD:
        return
    line = json.dumps(entry)
    with _LOCK:
        with open(_RECORD, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def _request_entry(case, request):
    return {
        "operation": f"{case.operation.method.upper()} {case.operation.path}",
        "method": getattr(request, "method", None),
        "url": getattr(request, "url", None),
        "content_type": (getattr(request, "headers", None) or {}).get("Content-Type"),
        "request_body": _text(getattr(request, "body", None)),
    }


@schemathesis.hook
def after_call(context, case, response):
    entry = {"status": response.status_code}
    if response.status_code >= 500:
        entry.update(_request_entry(case, response.request))
        entry["response_body"] = _text(response.content)
        entry["at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    else:
        entry["operation"] = f"{case.operation.method.upper()} {case.operation.path}"
    _write(entry)


@schemathesis.hook
def after_network_error(context, case, request):
    # A dropped connection is how a panicking handler usually shows up on the wire.
    # Schemathesis calls this from inside its except block, so the error is still current.
    error = sys.exc_info()[1]
    entry = {
        "status": None,
        "network_error": True,
        "error": repr(error) if error else None,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    entry.update(_request_entry(case, request))
    _write(entry)
