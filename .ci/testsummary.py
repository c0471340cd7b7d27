#!/usr/bin/env python3
"""Reads `go test -json` on stdin and writes a readable log: one line per
package as it finishes, then the whole output of every failed test (and of
every package that failed outside a test, e.g. a build error), the skipped
tests by package and name with their reason, and the counts of tests run,
skipped and failed (top-level tests and subtests, counted apart).

Exits 1 when a test or package failed or a test was skipped, else 0."""

import json
import sys

output = {}  # (package, test or "") -> output lines
result = {}  # (package, test) -> pass | fail | skip, for tests only
pkg_failed = []

for line in sys.stdin:
    try:
        ev = json.loads(line)
    except ValueError:
        print(line, end="")  # not an event: go's own message
        continue
    pkg, test, action = ev.get("Package", ""), ev.get("Test", ""), ev.get("Action")
    key = (pkg, test)
    if action == "build-output":  # a compiler's message (go 1.24 and later)
        print(ev["Output"], end="")
        output.setdefault((ev.get("ImportPath", ""), ""), []).append(ev["Output"])
    elif action == "output":
        output.setdefault(key, []).append(ev["Output"])
    elif action in ("pass", "fail", "skip"):
        if test:
            result[key] = action
            continue
        # The package's end ("skip": no test files).
        elapsed = ev.get("Elapsed", 0)
        status = {"pass": "ok  ", "fail": "FAIL", "skip": "?   "}[action]
        print(f"{status} {pkg} {elapsed:.1f}s", flush=True)
        if action == "fail":
            pkg_failed.append(pkg)

def counts(outcome):
    keys = [k for k, v in result.items() if v == outcome]
    top = sum(1 for _, t in keys if "/" not in t)
    return keys, top, len(keys) - top

failed, _, _ = counts("fail")
skipped, _, _ = counts("skip")

for key in failed:
    print(f"\n=== FAILED {key[0]} {key[1]}")
    print("".join(output.get(key, [])), end="")
for pkg in pkg_failed:
    if not any(p == pkg for p, _ in failed):
        print(f"\n=== FAILED {pkg} (outside any test)")
        print("".join(output.get((pkg, ""), [])), end="")

if skipped:
    print("\nSkipped tests:")
    for pkg, test in skipped:
        lines = [l.strip() for l in output.get((pkg, test), [])
                 if not l.startswith(("=== ", "--- ")) and l.strip()]
        print(f"  {pkg} {test}: {lines[-1] if lines else '(no reason given)'}")

total = len(result)
top = sum(1 for _, t in result if "/" not in t)
print(f"\nTests run: {total} ({top} top-level tests, {total - top} subtests)")
for name, outcome in (("passed", "pass"), ("skipped", "skip"), ("failed", "fail")):
    keys, t, s = counts(outcome)
    print(f"  {name}: {len(keys)} ({t} top-level, {s} subtests)")
if pkg_failed:
    print(f"Packages failed: {len(pkg_failed)}")

sys.exit(1 if failed or skipped or pkg_failed else 0)
