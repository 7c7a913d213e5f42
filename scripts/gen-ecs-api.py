#!/usr/bin/env python3
"""Generate the Rust ECS API types and the ECS model facts from the botocore model.

Usage: scripts/gen-ecs-api.py [PATH_TO_SHARED_REFERENCE]

Reads `ecs-2014-11-13.api.json` (default: ../shared/reference) and writes:
  src/api/ecs/generated.rs   one Rust struct or enum per ECS shape reachable from the request
                             shapes the custom resources accept, with the model's first
                             documentation sentence as the doc comment (it becomes
                             `kubectl explain` text);
  src/api/ecs/model.rs       the shape tree as data (every member of every shape, and the
                             read-only members of the output shapes) for the field-fate walker
                             and the coverage test, so nothing in the repo needs ../shared.

The output is committed; run this only when the ECS model is updated, then `cargo fmt`.
"""
import html
import json
import re
import sys
from pathlib import Path

ROOTS = {
    # CR spec struct: (request shape, output shape whose extra members are read-only, extras)
    "TaskDefinitionSpec": ("RegisterTaskDefinitionRequest", "TaskDefinition"),
    "ServiceSpec": ("CreateServiceRequest", "Service"),
    "TaskSpec": ("RunTaskRequest", None),
    "ClusterSpec": ("CreateClusterRequest", None),
}

# Schema rules the API server can check itself (CEL), per generated shape. Null-safe: every
# member is optional and nullable, so each rule first asks `has(...)` and compares non-null values.
EXTRA_ATTRS = {
    "ContainerDefinition": [
        '#[schemars(extend("x-kubernetes-validations" = [{"rule": "!has(self.memoryReservation) || !has(self.memory) || self.memoryReservation <= self.memory", "message": "memoryReservation (soft limit, MiB) must not exceed memory (hard limit, MiB)", "fieldPath": ".memoryReservation"}]))]',
    ],
}

RUST_KEYWORDS = {"type", "override", "ref", "match", "mod", "use", "loop", "where", "impl"}


def doc_text(raw, limit=240):
    """First sentence of the model's HTML documentation, as plain text."""
    if not raw:
        return ""
    text = re.sub(r"<[^>]+>", " ", raw)
    text = html.unescape(text)
    text = re.sub(r"\s+", " ", text).strip()
    m = re.search(r"^(.{20,}?[.!?])(\s|$)", text)
    sentence = m.group(1) if m else text
    if len(sentence) > limit:
        sentence = sentence[: limit - 1].rsplit(" ", 1)[0] + "…"
    return sentence


def snake(name):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s).lower()
    if s in RUST_KEYWORDS:
        s = "r#" + s
    return s


def variant(value):
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", value) if p]
    ident = "".join(p[:1].upper() + p[1:].lower() if p.isupper() or p.islower() else p[:1].upper() + p[1:] for p in parts)
    if not ident or ident[0].isdigit():
        ident = "V" + ident
    return ident


class Gen:
    def __init__(self, shapes):
        self.shapes = shapes
        self.structs = []  # ordered names
        self.enums = []
        self.seen = set()

    def visit(self, name):
        if name in self.seen:
            return
        self.seen.add(name)
        shape = self.shapes[name]
        kind = shape["type"]
        if kind == "structure":
            self.structs.append(name)
            for member in shape["members"].values():
                self.visit(member["shape"])
        elif kind == "list":
            self.visit(shape["member"]["shape"])
        elif kind == "map":
            self.visit(shape["value"]["shape"])
        elif kind == "string" and "enum" in shape:
            self.enums.append(name)

    def rust_type(self, name):
        shape = self.shapes[name]
        kind = shape["type"]
        if shape.get("document"):
            # A free-form JSON document (e.g. a lifecycle hook's hookDetails): kept whole.
            return "serde_json::Value"
        if kind == "structure":
            return name
        if kind == "list":
            return f"Vec<{self.rust_type(shape['member']['shape'])}>"
        if kind == "map":
            return f"BTreeMap<String, {self.rust_type(shape['value']['shape'])}>"
        if kind == "string":
            return name if "enum" in shape else "String"
        return {"integer": "i32", "long": "i64", "double": "f64", "boolean": "bool", "timestamp": "String"}[kind]

    def model_kind(self, name):
        shape = self.shapes[name]
        kind = shape["type"]
        if shape.get("document"):
            return "Kind::Scalar"
        if kind == "structure":
            return f'Kind::Struct("{name}")'
        if kind == "list":
            inner = shape["member"]["shape"]
            if self.shapes[inner]["type"] == "structure":
                return f'Kind::ListOf("{inner}")'
            return "Kind::Scalar"
        return "Kind::Scalar"


def emit_fields(gen, shape_name, out, indent="    "):
    shape = gen.shapes[shape_name]
    for member, spec in shape["members"].items():
        doc = doc_text(spec.get("documentation") or gen.shapes[spec["shape"]].get("documentation"))
        if doc:
            out.append(f"{indent}/// {doc}")
        out.append(f'{indent}#[serde(rename = "{member}", default, skip_serializing_if = "Option::is_none")]')
        if gen.shapes[spec["shape"]].get("document"):
            # The API server keeps a document as written instead of pruning it.
            out.append(f'{indent}#[schemars(schema_with = "crate::api::any_json")]')
        out.append(f"{indent}pub {snake(member)}: Option<{gen.rust_type(spec['shape'])}>,")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    ref = Path(args[0] if args else Path(__file__).resolve().parents[2] / "shared" / "reference")
    model = json.loads((ref / "ecs-2014-11-13.api.json").read_text())
    shapes = model["shapes"]
    version = model["metadata"]["apiVersion"]
    gen = Gen(shapes)
    for request, _ in ROOTS.values():
        gen.visit(request)
    roots = {request for request, _ in ROOTS.values()}

    out = [
        "//! ECS API shapes nested in the custom resources' specs, generated by",
        "//! `scripts/gen-ecs-api.py` from the ECS API model " + version + ". Do not edit by hand.",
        "//!",
        "//! Every member is optional here so that explicit nulls and partial input deserialize;",
        "//! required members and value rules are checked by `crate::validate` with JSON paths.",
        "#![allow(clippy::upper_case_acronyms, clippy::doc_lazy_continuation)]",
        "",
        "use std::collections::BTreeMap;",
        "",
        "use schemars::JsonSchema;",
        "use serde::{Deserialize, Serialize};",
        "",
    ]
    for name in gen.structs:
        if name in roots or shapes[name].get("document"):
            continue
        doc = doc_text(shapes[name].get("documentation"))
        if doc:
            out.append(f"/// {doc}")
        out.append("#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]")
        out.extend(EXTRA_ATTRS.get(name, []))
        out.append(f"pub struct {name} {{")
        emit_fields(gen, name, out)
        out.append("}")
        out.append("")
    for name in sorted(gen.enums):
        shape = shapes[name]
        doc = doc_text(shape.get("documentation")) or f"ECS `{name}` value."
        out.append(f"/// {doc}")
        out.append("#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]")
        out.append(f"pub enum {name} {{")
        seen = set()
        for value in shape["enum"]:
            ident = variant(value)
            assert ident not in seen, (name, value)
            seen.add(ident)
            out.append(f'    #[serde(rename = "{value}")]')
            out.append(f"    {ident},")
        out.append("}")
        out.append("")
        out.append(f"impl {name} {{")
        out.append("    /// The value exactly as ECS spells it.")
        out.append("    pub fn as_str(self) -> &'static str {")
        out.append("        match self {")
        for value in shape["enum"]:
            out.append(f'            Self::{variant(value)} => "{value}",')
        out.append("        }")
        out.append("    }")
        out.append("}")
        out.append("")
    # The root members go into the hand-written CR specs (src/api/*.rs), which carry the kube
    # attributes and the Kubernetes-only extras; print them once as a starting point. The
    # coverage test holds those specs against `model.rs`, so a member added here cannot be missed.
    if "--print-roots" in sys.argv:
        for spec_name, (request, _) in ROOTS.items():
            lines = []
            emit_fields(gen, request, lines)
            print(f"// {spec_name} <- {request}")
            print("\n".join(lines))
        return
    (Path(__file__).resolve().parents[1] / "src/api/ecs/generated.rs").write_text("\n".join(out) + "\n")

    # The model facts.
    facts = [
        "//! The ECS model as data: every member of every shape the custom resources accept, and",
        "//! the read-only members of the describe outputs. Generated by `scripts/gen-ecs-api.py`",
        "//! from the ECS API model " + version + "; do not edit by hand.",
        "",
        "/// What a member holds, as far as walking a JSON document needs to know.",
        "#[derive(Clone, Copy, Debug, PartialEq, Eq)]",
        "pub enum Kind {",
        "    /// A string, number, boolean, map of strings or list of scalars.",
        "    Scalar,",
        "    /// A nested structure (shape name).",
        "    Struct(&'static str),",
        "    /// A list of structures (shape name).",
        "    ListOf(&'static str),",
        "}",
        "",
        "/// One member of a shape.",
        "#[derive(Clone, Copy, Debug)]",
        "pub struct Member {",
        "    pub name: &'static str,",
        "    pub kind: Kind,",
        "}",
        "",
        "/// Every structure shape reachable from the accepted requests, with its members in model order.",
        "pub const SHAPES: &[(&str, &[Member])] = &[",
    ]
    for name in gen.structs:
        facts.append(f'    ("{name}", &[')
        for member, spec in shapes[name]["members"].items():
            facts.append(f'        Member {{ name: "{member}", kind: {gen.model_kind(spec["shape"])} }},')
        facts.append("    ]),")
    facts.append("];")
    facts.append("")
    facts.append("/// Members of the describe outputs that are not request members: read-only, stripped on import.")
    facts.append("pub const READ_ONLY: &[(&str, &[&str])] = &[")
    for spec_name, (request, output) in ROOTS.items():
        if not output:
            continue
        req = shapes[request]["members"]
        extra = [m for m in shapes[output]["members"] if m not in req]
        facts.append(f'    ("{request}", &[' + ", ".join(f'"{m}"' for m in extra) + "]),")
    facts.append("];")
    (Path(__file__).resolve().parents[1] / "src/api/ecs/model.rs").write_text("\n".join(facts) + "\n")
    print(f"{len(gen.structs)} structures, {len(gen.enums)} enums, "
          f"{sum(len(shapes[s]['members']) for s in gen.structs)} members")


if __name__ == "__main__":
    main()
