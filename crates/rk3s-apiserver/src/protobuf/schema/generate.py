#!/usr/bin/env python3
"""Generates the protobuf field tables in this directory.

The tables are derived from two public API definitions: the `generated.proto`
files (wire layout: field numbers, scalar types, nesting) and the Go types
(JSON names, `omitempty`, pointer-ness, inlined embedded structs, named slice
types). Usage, with git mirrors of kubernetes/api and kubernetes/apimachinery:

    python3 generate.py <kubernetes/api git dir> <kubernetes/apimachinery git dir>

Re-run it after the API gains fields; the output is deterministic.
"""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "tables")

# Messages whose JSON form is not an object; see `Shape` in mod.rs.
SPECIAL_SHAPES = {
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "Quantity",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": "Time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Duration": "Duration",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "RawJson",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "RawJson",
}

SCALARS = {
    "string": "S", "bytes": "B", "bool": "BOOL", "int32": "I32", "int64": "I64",
    "uint32": "U32", "uint64": "U64", "sint32": "I32", "sint64": "I64",
    "double": "F64", "float": "F32",
}


def git(repo, *args):
    return subprocess.run(["git", "--git-dir", repo, *args], check=True,
                          capture_output=True, text=True).stdout


def list_files(repo):
    return git(repo, "ls-tree", "-r", "--name-only", "HEAD").splitlines()


def parse_proto(text):
    """Returns (package, {message name: [fields]}) for a k8s generated.proto."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    package = re.search(r"^package ([\w.]+);", text, re.M).group(1)
    messages = {}
    for m in re.finditer(r"message (\w+) \{(.*?)\n\}", text, re.S):
        fields = []
        for line in m.group(2).split(";"):
            line = " ".join(line.split())
            if not line:
                continue
            fm = re.match(r"map<\s*([\w.]+)\s*,\s*([\w.]+)\s*> (\w+) = (\d+)", line)
            if fm:
                fields.append(("map", fm.group(1), fm.group(2), fm.group(3), int(fm.group(4))))
                continue
            fm = re.match(r"(optional|repeated|required) ([\w.]+) (\w+) = (\d+)", line)
            if not fm:
                raise SystemExit(f"unparsed proto line in {package}.{m.group(1)}: {line}")
            fields.append((fm.group(1), None, fm.group(2), fm.group(3), int(fm.group(4))))
        messages[m.group(1)] = fields
    return package, messages


def parse_go(text):
    """Returns ({struct: {proto name: go field info}}, kinds, named slices)."""
    structs, kinds, slices = {}, set(), set()
    for m in re.finditer(r"^type (\w+) \[\]", text, re.M):
        slices.add(m.group(1))
    for m in re.finditer(r"^type (\w+) struct \{\n(.*?)^\}", text, re.S | re.M):
        info = {}
        for line in m.group(2).splitlines():
            code = line.split("//")[0] if "`" not in line else line
            s = code.strip()
            if re.match(r"^(metav1\.)?TypeMeta\s+`json:\"(,inline)?\"`", s):
                kinds.add(m.group(1))
            pm = re.search(r'protobuf:"([^"]*)"', s)
            if not pm:
                continue
            head = s.split("`")[0].split()
            nm = re.search(r"name=(\w+)", pm.group(1))
            # An embedded field may leave its proto name implicit.
            base = head[-1].lstrip("*").split(".")[-1]
            pname = nm.group(1) if nm else base[:1].lower() + base[1:]
            jm = re.search(r'json:"([^"]*)"', s)
            jtag = jm.group(1).split(",") if jm else [""]
            embedded = len(head) == 1
            gotype = head[-1]
            info[pname] = {
                "json": jtag[0],
                "omitempty": "omitempty" in jtag[1:] or "omitzero" in jtag[1:],
                "inline": embedded and jtag[0] == "",
                "pointer": gotype.startswith("*"),
            }
        structs[m.group(1)] = info
    return structs, kinds, slices


def module_name(package):
    p = package.split(".")
    if p[:3] == ["k8s", "io", "api"]:
        return "_".join(p[3:])
    if p[:4] == ["k8s", "io", "apimachinery", "pkg"]:
        rest = p[4:]
        if rest[:1] == ["apis"]:
            rest = rest[1:]
        return "_".join(rest)
    raise SystemExit(f"unexpected package {package}")


def const_name(message):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", message)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return s.upper()


def collect(repo, prefix, go_pkg_dirs):
    """Yields (package dir, proto text, go texts, group name) per API package."""
    files = list_files(repo)
    for f in files:
        if not f.endswith("/generated.proto") or "testapigroup" in f:
            continue
        d = os.path.dirname(f)
        if go_pkg_dirs is not None and d not in go_pkg_dirs:
            continue
        go = [git(repo, "show", f"HEAD:{g}") for g in files
              if os.path.dirname(g) == d and g.endswith(".go")
              and not g.endswith("_test.go") and not os.path.basename(g).startswith("zz_")
              and not g.endswith(".pb.go") and "swagger" not in g]
        group = None
        for g in go:
            gm = (re.search(r"^// \+groupName=([\w.]*)", g, re.M)
                  or re.search(r"\bGroupName\s*=\s*\"([\w.]*)\"", g))
            if gm and group is None:
                group = gm.group(1)
        yield d, git(repo, "show", f"HEAD:{f}"), go, group


def main():
    api_repo, machinery_repo = sys.argv[1], sys.argv[2]
    packages = []  # (package, module, messages, structs, kinds, slices, group, version)
    sources = [(api_repo, None), (machinery_repo, {
        "pkg/api/resource", "pkg/apis/meta/v1", "pkg/runtime", "pkg/util/intstr",
        "pkg/runtime/schema"})]
    os.makedirs(OUT_DIR, exist_ok=True)
    for repo, dirs in sources:
        for d, proto, gos, group in collect(repo, "", dirs):
            package, messages = parse_proto(proto)
            structs, kinds, slices = {}, set(), set()
            for g in gos:
                s, k, sl = parse_go(g)
                structs.update(s)
                kinds |= k
                slices |= sl
            version = d.rsplit("/", 1)[-1]
            packages.append((package, module_name(package), messages, structs, kinds,
                             slices, group, version))

    known = {}
    for package, module, messages, *_ in packages:
        for name in messages:
            known[f"{package}.{name}"] = (module, const_name(name))

    registry = []
    for package, module, messages, structs, kinds, slices, group, version in sorted(packages):
        out = [f"//! Generated by generate.py from the `{package}` API definition: do not edit.",
               "", "use crate::protobuf::schema::*;", ""]
        for name in sorted(messages):
            full = f"{package}.{name}"
            shape = SPECIAL_SHAPES.get(full, "Items" if name in slices else "Object")
            go = structs.get(name, {})
            out.append(f"pub(crate) static {const_name(name)}: Message = Message {{")
            out.append(f"    name: \"{full}\",")
            out.append(f"    shape: Shape::{shape},")
            out.append("    fields: &[")
            for label, key, ty, pname, tag in messages[name]:
                info = go.get(pname)
                if ty in SCALARS:
                    val = SCALARS[ty]
                else:
                    ref = ty.lstrip(".")
                    if ref not in known:
                        ref = f"{package}.{ref}"
                    mod, cname = known[ref]
                    val = f"M(&{cname})" if mod == module else f"M(&super::{mod}::{cname})"
                if label == "map":
                    card = f"Card::Map({SCALARS[key]})"
                elif label == "repeated":
                    card = "Card::Repeated"
                else:
                    card = "Card::Single"
                if info is None:
                    emit, json = "Emit::Pointer", pname
                elif info["inline"]:
                    emit, json = "Emit::Inline", ""
                elif info["pointer"]:
                    emit, json = "Emit::Pointer", info["json"] or pname
                elif info["omitempty"]:
                    emit, json = "Emit::OmitEmpty", info["json"] or pname
                else:
                    emit, json = "Emit::Always", info["json"] or pname
                out.append(f"        Field::new({tag}, \"{json}\", {val}, {card}, {emit}),")
            out.append("    ],")
            out.append("};")
            if name in kinds and group is not None:
                api_version = f"{group}/{version}" if group else version
                registry.append((api_version, name, f"{module}::{const_name(name)}"))
        with open(os.path.join(OUT_DIR, f"{module}.rs"), "w") as fh:
            fh.write("\n".join(out) + "\n")

    modules = sorted({p[1] for p in packages})
    commits = ", ".join(f"{name} {git(repo, 'rev-parse', 'HEAD').strip()[:12]}"
                        for name, repo in [("kubernetes/api", api_repo),
                                           ("kubernetes/apimachinery", machinery_repo)])
    out = ["//! Generated by generate.py: the modules of field tables and the kind registry.",
           f"//! Source commits: {commits}.", ""]
    out += [f"pub(crate) mod {m};" for m in modules]
    out += ["", "use super::Message;", "",
            "/// Kinds by (apiVersion, kind), sorted for binary search.",
            "pub(crate) static KINDS: &[(&str, &str, &Message)] = &["]
    for api_version, kind, path in sorted(registry):
        out.append(f"    (\"{api_version}\", \"{kind}\", &{path}),")
    out.append("];")
    with open(os.path.join(HERE, "tables.rs"), "w") as fh:
        fh.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
