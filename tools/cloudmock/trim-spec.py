#!/usr/bin/env python3
"""Trim an official OpenAPI spec to the paths drover's fakes serve.

Keeps the given paths (every method) and every component they reference,
transitively; the kept text is unchanged. Writes gzipped JSON (valid YAML,
and much faster to load than the 3 MB YAML originals).

    trim-spec.py SPEC.yaml OUT.json.gz PATH...
"""
import gzip, json, sys, yaml

src, out, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
doc = yaml.safe_load(open(src))
keep = {p: doc["paths"][p] for p in paths}

def refs(node, acc):
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str) and r.startswith("#/components/"):
            acc.add(tuple(r[len("#/components/"):].split("/", 1)))
        for v in node.values():
            refs(v, acc)
    elif isinstance(node, list):
        for v in node:
            refs(v, acc)

todo, seen = set(), set()
refs(keep, todo)
while todo:
    k = todo.pop()
    if k in seen:
        continue
    seen.add(k)
    refs(doc["components"][k[0]][k[1]], todo)

comps = {}
for sect, name in sorted(seen):
    comps.setdefault(sect, {})[name] = doc["components"][sect][name]
for sect in ("securitySchemes",):
    if sect in doc.get("components", {}):
        comps[sect] = doc["components"][sect]
trimmed = {k: doc[k] for k in ("openapi", "info", "servers", "security", "tags") if k in doc}
trimmed["paths"] = keep
trimmed["components"] = comps
with gzip.open(out, "wt") as f:
    json.dump(trimmed, f, sort_keys=True, default=str)
print(f"{out}: {len(keep)} paths, {len(seen)} components")
