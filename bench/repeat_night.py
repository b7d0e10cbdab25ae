"""Site 01's night repeated from one saved state: how a change to the incremental night is timed
against the code before it (one saved state per checkout, runs alternated between them).

``prepare`` runs the full first night of a 10,000-subject study into ``OUT/state``; ``repeat`` copies
that state and runs the night in which only site 01 sent a new snapshot, ``--runs`` times, each in a
fresh process, printing its seconds and the layers that took more than half a second. The state
belongs to the checkout that made it: the fingerprints that keep unchanged work name the code, so a
state made by other code rebuilds everything. Compare two runs' outputs with
``bench/compare_outputs.py OUT_A/run/output OUT_B/run/output``.

    .venv/bin/python bench/repeat_night.py prepare [--subjects 10000] [--out bench/out/repeat]
    .venv/bin/python bench/repeat_night.py repeat [--runs 3] [--out bench/out/repeat]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest_bench import in_process  # noqa: E402  (after the path is set)
from bench.night_bench import _deliver, _night  # noqa: E402

PACKAGES = "m5"     # the submission folders: replaced by renaming a fresh folder, never written through


def _nights(incoming: Path) -> list[str]:
    return sorted(path.name.split("_")[1][:8] for path in (incoming / "site01").glob("*.csv"))


def prepare(out: Path, subjects: int, seed: int) -> None:
    from aclf.synth import generate

    shutil.rmtree(out, ignore_errors=True)
    generate(out / "incoming", subjects=subjects, seed=seed, nights=2, in_flight=())
    _deliver(out / "incoming", out / "state" / "landing", _nights(out / "incoming")[0])
    night = in_process(_night, str(out / "state"))
    print(f"first night {night['seconds']:.1f} s (success: {night['success']}); state in {out / 'state'}")


def copy_state(state: Path, run: Path) -> None:
    """``state`` into ``run``: the package files hard-linked, every other file copied. The splice
    copies a file's rows only from the file its row index names, by inode: package files copied
    anew would make the night write LB, ADLB and ADSCORE whole. Files outside the packages (the
    store, digests, indexes, status) are written in place, so a hard link would change the state."""
    shutil.rmtree(run, ignore_errors=True)
    for source in sorted(state.rglob("*")):
        target = run / source.relative_to(state)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif PACKAGES in source.relative_to(state).parts:
            os.link(source, target)
        else:
            shutil.copy2(source, target)


def repeat(out: Path, runs: int) -> None:
    run = out / "run"
    for number in range(1, runs + 1):
        copy_state(out / "state", run)
        _deliver(out / "incoming", run / "landing", _nights(out / "incoming")[1], sources={"site01"})
        night = in_process(_night, str(run))
        layers = ", ".join(f"{name} {seconds:.1f} s" for name, seconds, _ in night["layers"] if seconds > 0.5)
        print(f"run {number}: {night['seconds']:.1f} s (success: {night['success']}; {layers})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["prepare", "repeat"])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "repeat")
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args.out, args.subjects, args.seed)
    else:
        repeat(args.out, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
