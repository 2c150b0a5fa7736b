#!/usr/bin/env python3
"""Lists C++ function bodies longer than a limit (default 150 lines) under the given paths.

    python3 scripts/function_lengths.py [--limit N] [--all] [PATH ...]   (default PATH: src)

A function is a brace block whose opening line (or the signature lines just above it) looks like a
definition: it is not a namespace, class, struct, enum, union, extern block or initializer list,
and it is not inside another function. Its length counts from the first line of the signature to
the closing brace, both included. Comments, string and character literals are skipped when
braces are matched (raw string literals included). Exit status 1 when a function is over the
limit, so that the check can run in CI.
"""
import argparse
import pathlib
import re
import sys

NOT_FUNCTIONS = re.compile(
    r"^\s*(template\s*<.*>\s*)?(namespace|class|struct|enum|union|extern\s+\"C\")\b")


def strip_code(text):
    """Returns text with comments and literals replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not text[i - 1].isalnum()):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = ")" + m.group(1) + '"'
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            if c == "'" and i > 0 and text[i - 1].isalnum():  # digit separator 1'000
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    """(name, first line, length in lines) of every function definition in the file."""
    code = strip_code(path.read_text(encoding="utf-8", errors="replace"))
    # Preprocessor lines are not code for this purpose.
    code = re.sub(r"(?m)^[ \t]*#.*$", lambda m: " " * len(m.group(0)), code)
    results = []
    stack = []  # one entry per open brace: (is_function, start offset, name)
    last_stop = 0  # offset just after the last ';', '{' or '}'
    for pos, ch in enumerate(code):
        if ch == "{":
            in_function = any(e[0] for e in stack)
            head = code[last_stop:pos]
            flat = " ".join(head.split())
            is_function = (
                not in_function and flat != ""
                and (re.search(r"\)\s*(const|noexcept|override|final|mutable|\s)*(->[^{]*)?$", flat)
                     or re.search(r"\)\s*:\s*[\w:]+\s*[({]", flat))
                and not NOT_FUNCTIONS.match(flat)
                and not re.match(r"^(if|for|while|switch|catch|else|do|try)\b", flat)
                and not re.search(r"(=|return|\(|,)\s*$", flat))
            if is_function:
                names = re.findall(r"(~?[\w:]+(?:<[^()]*>)?)\s*\(", flat)
                start = last_stop + (len(head) - len(head.lstrip()))
                stack.append((True, start, names[0] if names else "?"))
            else:
                stack.append((False, pos, ""))
            last_stop = pos + 1
        elif ch == "}":
            if stack:
                is_function, start, name = stack.pop()
                if is_function:
                    first = code.count("\n", 0, start) + 1
                    last = code.count("\n", 0, pos) + 1
                    results.append((name, first, last - first + 1))
            last_stop = pos + 1
        elif ch == ";":
            last_stop = pos + 1
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", default=["src"])
    ap.add_argument("--limit", type=int, default=150)
    ap.add_argument("--all", action="store_true", help="list every function, longest first")
    args = ap.parse_args()
    found = []
    for p in args.paths:
        root = pathlib.Path(p)
        files = [root] if root.is_file() else sorted(
            f for f in root.rglob("*") if f.suffix in (".cc", ".h", ".cpp", ".hpp"))
        for f in files:
            for name, line, length in functions(f):
                found.append((length, f"{f}:{line}", name))
    found.sort(reverse=True)
    over = [x for x in found if x[0] > args.limit]
    for length, where, name in (found if args.all else over):
        print(f"{length:5d}  {where}  {name}")
    if not args.all:
        print(f"{len(over)} function(s) over {args.limit} lines "
              f"(of {len(found)} functions; longest {found[0][0] if found else 0})")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
