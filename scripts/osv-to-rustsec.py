#!/usr/bin/env python3
"""Convert OSV records of the crates.io ecosystem (the RUSTSEC-* ones) into the RustSec
advisory-db layout that `cargo audit --db DIR --no-fetch` and cargo-deny (db-path, --offline)
read: DIR/crates/<package>/RUSTSEC-YYYY-NNNN.md, each a ```toml front matter plus the text.

    scripts/osv-to-rustsec.py SOURCE OUT_DIR

SOURCE is OSV's crates.io export (a zip of <ID>.json files, as in the OSV data dumps'
crates.io/all.zip) or a directory of such .json files. Prints "<count> <newest modified>".
Only RUSTSEC-* records are written (the GHSA-* copies of the same advisories are skipped).
"""
import json
import os
import sys
import zipfile


def records(source):
    if os.path.isdir(source):
        for name in sorted(os.listdir(source)):
            if name.endswith(".json"):
                with open(os.path.join(source, name), encoding="utf-8") as f:
                    yield json.load(f)
    else:
        with zipfile.ZipFile(source) as z:
            for name in sorted(z.namelist()):
                if name.endswith(".json"):
                    yield json.loads(z.read(name))


def toml_str(s):
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def toml_list(items):
    return "[" + ", ".join(toml_str(i) for i in items) + "]"


def version_reqs(ranges):
    """OSV SEMVER events -> (patched, unaffected) RustSec requirements: a version is
    vulnerable unless it matches one of them."""
    patched, unaffected = [], []
    for r in ranges:
        if r.get("type") != "SEMVER":
            continue
        introduced = None  # start of the current vulnerable interval
        last_fixed = None  # end of the previous one
        first = True
        for ev in r.get("events", []):
            if "introduced" in ev:
                intro = ev["introduced"]
                if first and intro != "0":
                    unaffected.append(f"< {intro}")
                elif last_fixed is not None:
                    patched.append(f">= {last_fixed}, < {intro}")
                    last_fixed = None
                introduced, first = intro, False
            elif "fixed" in ev:
                last_fixed, introduced = ev["fixed"], None
            elif "last_affected" in ev:
                # Everything after it is unaffected (no fixed release named).
                last_fixed, introduced = None, None
                unaffected.append(f"> {ev['last_affected']}")
        if last_fixed is not None:
            patched.append(f">= {last_fixed}")
    return patched, unaffected


def convert(rec):
    rid = rec["id"]
    affected = [a for a in rec.get("affected", []) if a.get("package", {}).get("ecosystem") == "crates.io"]
    if not rid.startswith("RUSTSEC-") or not affected:
        return None
    a = affected[0]
    pkg = a["package"]["name"]
    dbs = a.get("database_specific", {}) or {}
    eco = a.get("ecosystem_specific", {}) or {}
    patched, unaffected = version_reqs(a.get("ranges", []))
    date = (rec.get("published") or rec.get("modified"))[:10]
    url = next((r["url"] for r in rec.get("references", []) if r.get("type") in ("REPORT", "ADVISORY", "WEB")), None)
    lines = ["```toml", "[advisory]", f"id = {toml_str(rid)}", f"package = {toml_str(pkg)}", f"date = {toml_str(date)}"]
    if url:
        lines.append(f"url = {toml_str(url)}")
    if dbs.get("categories"):
        lines.append(f"categories = {toml_list(dbs['categories'])}")
    if dbs.get("cvss"):
        lines.append(f"cvss = {toml_str(dbs['cvss'])}")
    info = dbs.get("informational") or eco.get("informational")
    if info:
        lines.append(f"informational = {toml_str(info)}")
    aliases = [x for x in rec.get("aliases", []) if x != rid]
    if aliases:
        lines.append(f"aliases = {toml_list(aliases)}")
    related = [x for x in rec.get("related", []) if x != rid]
    if related:
        lines.append(f"related = {toml_list(related)}")
    if rec.get("withdrawn"):
        lines.append(f"withdrawn = {toml_str(rec['withdrawn'][:10])}")
    affects = eco.get("affects") or {}
    if affects.get("os") or affects.get("arch") or affects.get("functions"):
        lines.append("")
        lines.append("[affected]")
        if affects.get("os"):
            lines.append(f"os = {toml_list(affects['os'])}")
        if affects.get("arch"):
            lines.append(f"arch = {toml_list(affects['arch'])}")
        if affects.get("functions"):
            lines.append("functions = { " + ", ".join(f"{toml_str(k)} = {toml_list(v)}" for k, v in affects["functions"].items()) + " }")
    lines += ["", "[versions]", f"patched = {toml_list(patched)}"]
    if unaffected:
        lines.append(f"unaffected = {toml_list(unaffected)}")
    lines += ["```", "", f"# {rec.get('summary') or rid}", "", (rec.get("details") or "").strip(), ""]
    return pkg, rid, "\n".join(lines)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, out = sys.argv[1], sys.argv[2]
    count, newest = 0, ""
    for rec in records(source):
        conv = convert(rec)
        if conv is None:
            continue
        pkg, rid, text = conv
        d = os.path.join(out, "crates", pkg)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{rid}.md"), "w", encoding="utf-8") as f:
            f.write(text)
        count += 1
        newest = max(newest, rec.get("modified", ""))
    print(count, newest or "-")


if __name__ == "__main__":
    main()
