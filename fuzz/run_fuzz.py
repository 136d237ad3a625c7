#!/usr/bin/env python3
"""Schema-driven fuzz of a running rk3s API server: fetches the served OpenAPI v3 documents,
narrows them so generated requests reach real handlers (existing namespaces and names, no
watches or streaming subresources), runs schemathesis against them with the admin client
certificate from a kubeconfig, and writes summary.json listing every 5xx and network error.

Usage: run_fuzz.py --kubeconfig K --out DIR [--group-version api/v1 ...] [--max-time S]
Exit status: 0 when no response was 5xx and no request died on the wire, 1 otherwise,
2 when the fuzz could not run at all."""

import argparse
import base64
import collections
import copy
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))

# Subresources that stream or hijack the connection; they need a kubelet and a real client.
STREAMING_SUFFIXES = ("/attach", "/exec", "/portforward", "/proxy")
# Query parameters that turn a request into a long-lived stream.
STREAMING_PARAMS = {"watch", "follow"}
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
JSON_PATCH_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["op", "path"],
        "properties": {
            "op": {"type": "string", "enum": ["add", "remove", "replace", "move", "copy", "test"]},
            "path": {"type": "string"},
            "from": {"type": "string"},
            "value": {},
        },
    },
}


def load_kubeconfig(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        import yaml  # schemathesis depends on PyYAML, so it is present when the fuzz can run

        return yaml.safe_load(text)


def write_credentials(kubeconfig, out):
    cluster = kubeconfig["clusters"][0]["cluster"]
    user = kubeconfig["users"][0]["user"]
    files = {
        "ca.pem": cluster["certificate-authority-data"],
        "client.pem": user["client-certificate-data"],
        "client-key.pem": user["client-key-data"],
    }
    paths = {}
    for name, data in files.items():
        p = os.path.join(out, name)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64decode(data))
        paths[name] = p
    return cluster["server"].rstrip("/"), paths


def get_json(server, ctx, path):
    with urllib.request.urlopen(server + path, context=ctx, timeout=30) as r:
        return json.loads(r.read())


def resource_schema(item):
    """The object schema of a path: its PUT body, else its GET 200 response."""
    put = item.get("put", {}).get("requestBody", {}).get("content", {})
    for media in put.values():
        if "schema" in media:
            return media["schema"]
    ok = item.get("get", {}).get("responses", {}).get("200", {}).get("content", {})
    media = ok.get("application/json")
    return media.get("schema") if media else None


def narrow(doc, namespaces, names):
    """A copy of an OpenAPI document whose requests can reach handlers instead of 404ing on
    random namespaces, and that never opens a stream the fuzzer would wait on."""
    doc = copy.deepcopy(doc)
    paths = {}
    for path, item in doc.get("paths", {}).items():
        if "/watch/" in path or path.endswith(STREAMING_SUFFIXES) or "/proxy/" in path:
            continue
        obj_schema = resource_schema(item)
        for key, value in item.items():
            if key == "parameters":
                item[key] = narrow_params(value, namespaces, names)
                continue
            if not isinstance(value, dict):
                continue
            value["parameters"] = narrow_params(value.get("parameters", []), namespaces, names)
            body = value.get("requestBody")
            if not body:
                continue
            content = body.get("content", {})
            if "*/*" in content:
                content["application/json"] = content.pop("*/*")
            if key == "patch":
                patch_schema = obj_schema or {"type": "object"}
                for media in PATCH_TYPES:
                    if media in content:
                        schema = JSON_PATCH_SCHEMA if media.endswith("json-patch+json") else patch_schema
                        content[media] = {"schema": schema}
        paths[path] = item
    doc["paths"] = paths
    narrow_components(doc.get("components", {}).get("schemas", {}), namespaces, names)
    return doc


def narrow_components(schemas, namespaces, names):
    """Positive bodies name their own kind, an existing namespace and a name the path
    parameters also use, so creates and updates get past the first check into storage."""
    for schema in schemas.values():
        props = schema.get("properties", {})
        gvks = schema.get("x-kubernetes-group-version-kind", [])
        if len(gvks) == 1 and "apiVersion" in props and "kind" in props:
            gvk = gvks[0]
            api_version = f"{gvk['group']}/{gvk['version']}" if gvk.get("group") else gvk["version"]
            props["apiVersion"] = {"type": "string", "enum": [api_version]}
            props["kind"] = {"type": "string", "enum": [gvk["kind"]]}
    meta = schemas.get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", {}).get("properties", {})
    if meta:
        meta["name"] = {"type": "string", "enum": list(names) + ["fuzz-a", "fuzz-b"]}
        meta["namespace"] = {"type": "string", "enum": list(namespaces)}


def narrow_params(params, namespaces, names):
    out = []
    for p in params:
        if p.get("in") == "query" and p.get("name") in STREAMING_PARAMS:
            continue
        schema = p.get("schema", {})
        if "uniqueItems" in schema and schema.get("type") != "array":
            # Kubernetes marks scalar parameters uniqueItems; schemathesis' coverage phase
            # trips over the meaningless keyword and abandons the operation.
            p = dict(p, schema={k: v for k, v in schema.items() if k != "uniqueItems"})
        if p.get("in") == "path" and p.get("name") == "namespace":
            p = dict(p, schema={"type": "string", "enum": list(namespaces)})
        elif p.get("in") == "path" and p.get("name") == "name":
            p = dict(p, schema={"type": "string", "enum": list(names)})
        out.append(p)
    return out


def schemathesis_command():
    exe = shutil.which("schemathesis")
    if exe:
        return [exe]
    return [sys.executable, "-c", "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())"]


def run_schemathesis(schema_path, server, creds, args, record, out, label):
    cmd = schemathesis_command() + [
        "run",
        schema_path,
        "--url", server,
        "--request-cert", creds["client.pem"],
        "--request-cert-key", creds["client-key.pem"],
        "--tls-verify", creds["ca.pem"],
        "--checks", "not_a_server_error",
        "--phases", args.phases,
        "--mode", args.mode,
        "--max-examples", str(args.max_examples),
        "--max-time", str(args.max_time),
        "--workers", str(args.workers),
        "--request-timeout", "20",
        # One retry absorbs a keep-alive race on a reused connection; a handler that drops
        # the connection every time (a panic) still fails both attempts and is recorded.
        "--request-retries", "1",
        "--suppress-health-check", "all",
        "--generation-database", "none",
        "--continue-on-failure",
        "--no-shrink",
        "--no-color",
        "--warnings", "off",
        "--report", "junit",
        "--report-junit-path", os.path.join(out, f"junit-{label}.xml"),
    ]
    if args.seed is not None:
        cmd += ["--seed", str(args.seed)]
    env = dict(os.environ, SCHEMATHESIS_HOOKS=os.path.join(HERE, "hooks.py"), RK3S_FUZZ_RECORD=record)
    log_path = os.path.join(out, f"schemathesis-{label}.log")
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=out).returncode
    return {"label": label, "exit_code": rc, "seconds": round(time.monotonic() - started, 1), "log": log_path}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--out", required=True, help="directory for schemas, logs and summary.json")
    ap.add_argument("--group-version", action="append", dest="group_versions",
                    help="OpenAPI v3 document to fuzz, e.g. api/v1 (repeatable)")
    ap.add_argument("--namespace", action="append", dest="namespaces",
                    help="existing namespace for {namespace} path parameters (repeatable)")
    ap.add_argument("--name", action="append", dest="names",
                    help="object name for {name} path parameters (repeatable)")
    ap.add_argument("--max-time", type=int, default=60, help="seconds per group-version")
    ap.add_argument("--max-examples", type=int, default=8, help="test cases per operation")
    ap.add_argument("--phases", default="examples,coverage,fuzzing")
    ap.add_argument("--mode", default="all", choices=["positive", "negative", "all"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int)
    args = ap.parse_args()
    group_versions = args.group_versions or ["api/v1", "apis/apps/v1"]
    namespaces = args.namespaces or ["default", "fuzz-seed"]
    names = args.names or ["fuzz-seed", "default", "kubernetes"]

    os.makedirs(args.out, exist_ok=True)
    server, creds = write_credentials(load_kubeconfig(args.kubeconfig), args.out)
    ctx = ssl.create_default_context(cafile=creds["ca.pem"])
    ctx.load_cert_chain(creds["client.pem"], creds["client-key.pem"])

    index = get_json(server, ctx, "/openapi/v3")["paths"]
    record = os.path.join(args.out, "responses.ndjson")
    open(record, "w").close()
    runs = []
    for gv in group_versions:
        if gv not in index:
            print(f"error: {gv} is not in the server's /openapi/v3 index", file=sys.stderr)
            return 2
        doc = narrow(get_json(server, ctx, index[gv]["serverRelativeURL"]), namespaces, names)
        label = gv.replace("/", "_")
        schema_path = os.path.join(args.out, f"schema-{label}.json")
        with open(schema_path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        runs.append(run_schemathesis(schema_path, server, creds, args, record, args.out, label))

    statuses = collections.Counter()
    by_operation = collections.defaultdict(collections.Counter)
    server_errors, network_errors = [], []
    with open(record, encoding="utf-8") as f:
        for line in f:
            entry = json.loads(line)
            status = entry.get("status")
            statuses[str(status)] += 1
            by_operation[entry.get("operation")][str(status)] += 1
            if entry.get("network_error"):
                network_errors.append(entry)
            elif status is not None and status >= 500:
                server_errors.append(entry)
    summary = {
        "server": server,
        "group_versions": group_versions,
        "requests": sum(statuses.values()),
        "statuses": dict(sorted(statuses.items())),
        "operations": len(by_operation),
        "operations_reaching_2xx": sorted(op for op, c in by_operation.items()
                                          if any(s.startswith("2") for s in c)),
        "server_errors": server_errors,
        "network_errors": network_errors,
        "runs": runs,
    }
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    print(f"{summary['requests']} requests over {summary['operations']} operations; "
          f"statuses {summary['statuses']}; "
          f"{len(server_errors)} server errors, {len(network_errors)} network errors")
    for run in runs:
        print(f"schemathesis {run['label']}: exit {run['exit_code']} in {run['seconds']}s ({run['log']})")
    if summary["requests"] == 0:
        print("error: schemathesis sent no requests", file=sys.stderr)
        return 2
    return 1 if server_errors or network_errors else 0


if __name__ == "__main__":
    sys.exit(main())
