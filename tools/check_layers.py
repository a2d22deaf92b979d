#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""check_layers.py - src/ must read bottom-up in one direction.

For every pair of src/*.c files it lists whether each one uses a function
(or global object) defined in the other, then fails when any files call
each other in a circle: a pair, or a longer cycle. The layers it prints
(each file after everything it uses) are the order docs/design.md shows.

    /usr/bin/python3 tools/check_layers.py [src-dir]     exit 0: no cycle

It reads the sources as text, not the objects, so that it needs no build:
comments, strings and preprocessor lines are dropped, a name at brace depth
0 followed by a parameter list and '{' is a function definition, a name
before '=' at depth 0 is an object definition (not 'static': those cannot
be used from another file), and any other use of a name another file
defines is a use of that file. A file's own definitions (static ones too)
shadow the others'.
"""
import os
import re
import sys

TOKEN = re.compile(r"[A-Za-z_]\w*|\S")
IGNORED = re.compile(
    r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'"
    r"|^[ \t]*#(?:[^\n]*\\\n)*[^\n]*",
    re.S | re.M)


def tokens(text):
    return TOKEN.findall(IGNORED.sub(" ", text))


def skip_group(toks, i):
    """Index past the bracket group that opens at toks[i]."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    depth, close, opener = 0, pairs[toks[i]], toks[i]
    while i < len(toks):
        if toks[i] == opener:
            depth += 1
        elif toks[i] == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def definitions(toks):
    """(external names, every name) this file defines at file scope."""
    external, every = set(), set()
    i, start = 0, 0  # start: first token of the current top-level declaration
    while i < len(toks):
        tok = toks[i]
        if tok == ";":
            i, start = i + 1, i + 1
        elif tok == "{" and i > 0 and toks[i - 1] == ")":
            # The end of a parameter list before a body: find its name.
            j = i - 1
            depth = 0
            while j >= start:
                if toks[j] == ")":
                    depth += 1
                elif toks[j] == "(":
                    depth -= 1
                    if depth == 0:
                        break
                j -= 1
            name = toks[j - 1] if j > start else None
            if name and re.match(r"[A-Za-z_]", name):
                every.add(name)
                if "static" not in toks[start:j]:
                    external.add(name)
            i = skip_group(toks, i)
            start = i
        elif tok in "([{":
            i = skip_group(toks, i)
        elif tok == "=" and toks[start] not in ("static", "extern", "typedef"):
            name = toks[i - 1]
            if name == "]":  # array: name [ ... ] =
                k = i - 1
                while toks[k] != "[":
                    k -= 1
                name = toks[k - 1]
            every.add(name)
            external.add(name)
            while i < len(toks) and toks[i] != ";":
                i = skip_group(toks, i) if toks[i] in "([{" else i + 1
        elif tok == "=":
            k = i - 1
            while toks[k] == "]":
                while toks[k] != "[":
                    k -= 1
                k -= 1
            every.add(toks[k])
            while i < len(toks) and toks[i] != ";":
                i = skip_group(toks, i) if toks[i] in "([{" else i + 1
        else:
            i += 1
    return external, every


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "src")
    files = sorted(f for f in os.listdir(src) if f.endswith(".c"))
    toks, owner, own = {}, {}, {}
    for name in files:
        with open(os.path.join(src, name), encoding="utf-8") as f:
            toks[name] = tokens(f.read())
        external, every = definitions(toks[name])
        own[name] = every
        for symbol in external:
            if symbol in owner:
                print(f"{symbol} is defined in {owner[symbol]} and {name}")
                return 1
            owner[symbol] = name
    uses = {name: {} for name in files}  # file -> used file -> a symbol
    for name in files:
        for tok in toks[name]:
            other = owner.get(tok)
            if other and other != name and tok not in own[name]:
                uses[name].setdefault(other, tok)

    print("pairs (a uses b: the first symbol found):")
    circles = 0
    for i, a in enumerate(files):
        for b in files[i + 1:]:
            ab, ba = uses[a].get(b), uses[b].get(a)
            if ab and ba:
                circles += 1
                print(f"  CIRCLE {a} <-> {b} ({ab}; {ba})")
            elif ab or ba:
                lo, hi, sym = (a, b, ab) if ab else (b, a, ba)
                print(f"  {lo} -> {hi} ({sym})")

    # Layers: a file sits one above the highest file it uses. Files left
    # over when no file is free of unplaced uses lie on a cycle.
    layer, left = {}, set(files)
    while left:
        ready = [f for f in left if all(u in layer for u in uses[f])]
        if not ready:
            break
        for f in ready:
            layer[f] = 1 + max((layer[u] for u in uses[f]), default=-1)
        left -= set(ready)
    print("layers, bottom-up:")
    for level in range(max(layer.values(), default=-1) + 1):
        print(f"  {level}: " + " ".join(sorted(f for f in layer
                                               if layer[f] == level)))
    if left:
        print("on or above a cycle: " + " ".join(sorted(left)))
        return 1
    return 1 if circles else 0


if __name__ == "__main__":
    sys.exit(main())
