#!/usr/bin/env python3
"""Counts crate-internal references that point from a lower layer to a higher one.

Layers, lowest first (a module may use its own layer and those below):
  0 core:   error message framing uri header mime capture clock alloc (and the crate root re-exports)
  1 crypto
  2 store
  3 smime
  4 filter
  5 tool   (tool/, and before the move: sign encrypt cache select smime::verify smime::decrypt)
  6 relay
  7 cli
  8 bin
Every `crate::X` path in a non-comment line of src/ counts once per line and per distinct
higher-layer module X; `use crate::{a::.., b::..}` groups count each top-level name.
Usage: issue-13-layers.py [SRC_DIR]  (prints each offending line, then the total)."""
import os, re, sys

LAYER = {
    "error": 0, "message": 0, "framing": 0, "uri": 0, "header": 0, "mime": 0, "capture": 0,
    "alloc": 0, "clock": 0, "ParseError": 0, "ParseErrorKind": 0, "Message": 0, "HeaderKind": 0,
    "crypto": 1, "store": 2, "smime": 3, "filter": 4,
    "tool": 5, "sign": 5, "encrypt": 5, "cache": 5, "select": 5,
    "relay": 6, "cli": 7,
}

def file_layer(rel):
    parts = rel.split("/")
    if parts[0] == "bin":
        return 8
    top = parts[0].removesuffix(".rs")
    if top == "smime" and len(parts) > 1 and parts[1].removesuffix(".rs") in ("verify", "decrypt"):
        return 5  # the verify and decrypt tools, before they move to tool/
    if top == "lib":
        return None
    return LAYER.get(top)

def referenced(text):
    """Top-level module names referenced as crate::X, including in use groups."""
    names = set()
    for m in re.finditer(r"crate::(\{[^}]*\}|\w+)", text):
        g = m.group(1)
        if g.startswith("{"):
            depth = 0; tok = ""; first = True
            for ch in g[1:-1] + ",":
                if ch == "{": depth += 1
                elif ch == "}": depth -= 1
                if depth == 0 and ch == ",":
                    t = tok.strip()
                    if t:
                        names.add(re.match(r"\w+", t).group(0))
                    tok = ""
                    continue
                tok += ch
        else:
            names.add(g)
    return names

def smime_sub(text):
    return set(re.findall(r"smime::(verify|decrypt)\b", text))

def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "src"
    total = 0
    for root, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith(".rs"):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, src)
            low = file_layer(rel)
            if low is None:
                continue
            text = open(path).read()
            # join multi-line use groups into one logical line
            stmts = re.findall(r"(?m)^[^/\n]*?\buse\s+crate::[^;]*;|^(?!\s*//).*crate::.*$", text)
            for s in stmts:
                s1 = " ".join(s.split())
                highs = sorted(n for n in referenced(s1) if LAYER.get(n, 0) > low)
                highs += sorted("smime::" + n for n in smime_sub(s1) if low < 5)
                if highs:
                    total += len(highs)
                    print(f"{rel}: {','.join(highs)}: {s1[:120]}")
    print(f"TOTAL {total}")

main()
