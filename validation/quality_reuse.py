"""A suite's result kept for the next night: reused when the suite, the frame it validates, the code,
the libraries and the configuration are all the same, so that a night in which only lab transfers
came runs the lab suite and no form's. The key is a digest of the frame's content, not of the
transfers behind it: whatever changed a frame, its suite runs again."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from aclf.frames import float_bits


def suite_key(version: str, suite_json: dict, frame: pd.DataFrame) -> str:
    """What one suite's result depends on: ``version`` (aclf.inputs.built_by), the suite's
    expectations and the frame's columns, types and values, row by row."""
    digest = hashlib.sha256(f"{version}|{json.dumps(suite_json, sort_keys=True, default=str)}".encode())
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(float_bits(frame), index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _path(folder: Path, suite: str) -> Path:
    return folder / f"{suite}.json"


def kept_result(folder: Path, suite: str, key: str) -> dict | None:
    """The kept result of ``suite`` (its batch identifier, the run that made it and the serialized
    result) if it was made under ``key``; None otherwise."""
    path = _path(folder, suite)
    if not path.exists():
        return None
    kept = json.loads(path.read_text(encoding="utf-8"))
    return kept if kept.get("key") == key else None


def keep_results(folder: Path, results: dict[str, dict]) -> None:
    """Replace the kept results by tonight's: suite -> {key, batch, run, result}; other suites' files go."""
    folder.mkdir(parents=True, exist_ok=True)
    for suite, kept in results.items():
        partial = folder / f".{suite}.json.partial"
        partial.write_text(json.dumps(kept), encoding="utf-8")
        partial.replace(_path(folder, suite))
    for old in folder.glob("*.json"):
        if old.stem not in results:
            old.unlink()
