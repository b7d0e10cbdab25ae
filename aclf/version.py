"""The code version a run reports: the installed package's version, plus the git commit (and
``+dirty`` for uncommitted changes) when the code runs from a checkout."""
from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGE = "aclf-pipeline"
ROOT = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=1)
def code_version() -> str:
    try:
        release = version(PACKAGE)
    except PackageNotFoundError:
        release = "unknown"
    commit = _git("rev-parse", "--short=12", "HEAD")
    if not commit:
        return release
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return f"{release}+g{commit}{'.dirty' if dirty else ''}"


def _git(*args: str) -> str:
    if not (ROOT / ".git").exists():
        return ""
    try:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
