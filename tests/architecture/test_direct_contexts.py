"""Dagster contexts built for a direct invocation are closed by a ``with``, never by the garbage
collector: their ``__del__`` closes an ephemeral instance, which resets a context variable in the
middle of a collection, and on CPython 3.11 that can crash the suite much later
(python/cpython#148891; tests/assets/test_assets.py ``invoke``)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WITH_DEL = {"build_asset_context", "build_op_context"}    # the contexts that close themselves in __del__


def _called(node: ast.Call) -> str | None:
    return getattr(node.func, "attr", None) or getattr(node.func, "id", None)


def test_contexts_with_a_finalizer_are_built_only_as_the_subject_of_a_with():
    outside = []
    for path in [*ROOT.glob("tests/**/*.py"), *ROOT.glob("assets/**/*.py"), *ROOT.glob("pipelines/**/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_with = {id(item.context_expr) for node in ast.walk(tree) if isinstance(node, ast.With) for item in node.items}
        outside += [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(tree)
                    if isinstance(node, ast.Call) and _called(node) in WITH_DEL and id(node) not in in_with]
    assert not outside
