"""`snakemake --lint`, with the warnings the README justifies allowed and every other one an error.

    .venv/bin/python scripts/check_lint.py [snakemake args...]    (make lint; CI runs it)

Snakemake 9 prints its lints as text (``Lints for rule X`` / ``Lints for snakefile Y``, then one
``* <title>:`` line per lint); this counts them by title and exits 1 on any title not in ALLOWED.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

# lint title -> why we keep it (README, section "Snakemake conventions")
ALLOWED = {
    "Mixed rules and functions in same snakefile.":
        "a stage's input functions live beside its rules, so that adding a stage is one .smk file",
}


def lints(text: str) -> Counter:
    return Counter(m.group(1) for m in re.finditer(r"^\s+\* (.+?):\s*$", text, re.M))


def main(argv: list[str]) -> int:
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint", *argv], capture_output=True, text=True)
    found = lints(proc.stdout + proc.stderr)
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not found):
        print((proc.stdout + proc.stderr)[-3000:], file=sys.stderr)
        print("check_lint: snakemake --lint failed", file=sys.stderr)
        return 2
    bad = {t: n for t, n in found.items() if t not in ALLOWED}
    for title, n in sorted(found.items()):
        print(f"{'allowed' if title in ALLOWED else 'ERROR  '} {n:3d} x {title}"
              + (f" ({ALLOWED[title]})" if title in ALLOWED else ""))
    if bad:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        return 1
    print("check_lint: no lint beyond the justified ones")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
