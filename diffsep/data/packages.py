"""Optional real datasets that a Debian package provides, and how to install them (``make data``).

A dataset whose files are absent is skipped with a note (``params.optional: true``); when its path
is one a Debian package installs, the note names the command that installs it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["DEBIAN_PACKAGES", "package_for", "install_hint", "missing_packages", "install_plan"]

# directory the package installs -> Debian package
DEBIAN_PACKAGES = {
    "/usr/share/datasets/fashion-mnist": "dataset-fashion-mnist",
}


def package_for(path) -> str | None:
    """The Debian package that installs ``path`` (or a file below it), else None."""
    p = Path(str(path)).as_posix().rstrip("/")
    for root, pkg in DEBIAN_PACKAGES.items():
        if p == root or p.startswith(root + "/"):
            return pkg
    return None


def install_hint(path) -> str:
    """``'; install it with `make data` (sudo apt-get install <pkg>)'`` for a packaged path, else ''."""
    pkg = package_for(path)
    return f"; install it with `make data` (or: sudo apt-get install {pkg})" if pkg else ""


def missing_packages(config: dict) -> list[str]:
    """Debian packages of the config's datasets whose files are absent (sorted, unique)."""
    out = set()
    for spec in (config.get("datasets") or {}).values():
        path = (spec.get("params") or {}).get("path")
        pkg = package_for(path) if path else None
        if pkg and not Path(path).exists():
            out.add(pkg)
    return sorted(out)


def install_plan(packages: list[str]) -> tuple[list[str] | None, str]:
    """``(argv, message)``: the apt-get command to run here (root with apt), or None and the one
    command the user should run."""
    if not packages:
        return None, "make data: every packaged dataset of this config is present"
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    if os.geteuid() == 0 and shutil.which("apt-get"):
        return cmd, "make data: " + " ".join(cmd)
    return None, f"make data: not root or no apt here; run: sudo apt-get install {' '.join(packages)}"
