"""The layering rules of docs/architecture.md, checked on the source itself."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ["aclf", "cdisc", "validation"]
SHELL = ["assets", "pipelines"]


def _imports(package: str) -> dict[str, set[str]]:
    """Every module of a top-level package and the top-level packages it imports."""
    found = {}
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("package", CORE)
def test_the_core_imports_neither_dagster_nor_the_orchestration_shell(package):
    offending = {module: sorted(names & {"dagster", *SHELL}) for module, names in _imports(package).items()
                 if names & {"dagster", *SHELL}}
    assert not offending


def test_dagster_is_imported_only_by_the_shell():
    users = {module.split("/")[0] for package in [*CORE, *SHELL, "bench"] for module, names in _imports(package).items()
             if "dagster" in names}
    assert users <= set(SHELL)


def test_no_module_reads_yaml_at_import():
    """Importing every module of the product reads no configuration: Definitions are built by a
    function of the settings, so ``--study`` and ACLF_STUDY_DIR are honoured everywhere. Run in a
    fresh interpreter, so that no module is already imported."""
    script = f"""
import importlib, pkgutil, yaml
def refuse(*args, **kwargs):
    raise AssertionError("YAML read at import time")
yaml.safe_load = yaml.load = refuse
for package in {[*CORE, *SHELL]!r}:
    importlib.import_module(package)
    for info in pkgutil.walk_packages([{str(ROOT)!r} + "/" + package], prefix=package + "."):
        importlib.import_module(info.name)
print("imported")
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "imported"
