"""Nightly-job benchmark (``make bench``): a full night on a large synthetic study against its I/O
floor measured in the same run, peak memory per layer, an incremental night in which one site
sent a new snapshot, a night in which no source sent one, and a small study's night end to end (a
fresh process, Dagster included), then again with no new transfer: three times, each on a fresh
study, and their median.

Each night runs in its own process, so that its peak resident memory (VmHWM) is its own; the peak
is reset after each layer (/proc/self/clear_refs), so each layer shows its own; the night's warm
worker (the suites and figures, aclf.warm_worker) shows its peak beside, and the two processes'
resident memory together is sampled every 50 ms. The I/O floor is
pandas reading every raw transfer of the night plus pyreadstat writing every XPT the night wrote.
A script, not a test: the figures depend on the machine and what else it runs.

    .venv/bin/python bench/night_bench.py [--subjects 10000] [--small 150] [--small-runs 3] [--out bench/out]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest_bench import (  # noqa: E402  (after the path is set)
    child_pids, children_peak_mb, in_process, peak_mb, raw_read, rss_mb)


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:             # not Linux, or not allowed: the peaks become cumulative
        pass


def _night(folder: str, queue) -> None:
    """One nightly run in this (fresh) process: total seconds, and seconds and peak MB per layer."""
    from aclf.collector import prepare_process
    from aclf.settings import Settings

    prepare_process("pipelines.nightly")     # as ``aclf run`` starts
    from pipelines.nightly import run_nightly

    root = Path(folder)
    settings = Settings.resolve(landing=root / "landing", output=root / "output", archive=root / "archive",
                                database_url=f"sqlite:///{root / 'store.sqlite'}")
    layers, mark, worker = [], [time.perf_counter()], [0.0]
    _reset_peak()

    def progress(line: str) -> None:
        now = time.perf_counter()
        layers.append((line.split(":")[0], now - mark[0], peak_mb()))
        worker[0] = max(worker[0], children_peak_mb())     # the warm worker's peak so far (never reset)
        mark[0] = now
        _reset_peak()

    stop, together = threading.Event(), [0.0]
    sampler = threading.Thread(target=_sample_together, args=(stop, together), daemon=True)
    sampler.start()
    start = time.perf_counter()
    result = run_nightly(settings, log_level="ERROR", progress=progress)
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    queue.put({"seconds": seconds, "success": result.success, "layers": layers, "worker": worker[0],
               "together": together[0]})


def _sample_together(stop: threading.Event, peak: list[float]) -> None:
    """The largest resident memory of this process and its children together, sampled every 50 ms
    (each process's own peak comes from the kernel; the two are not at their peaks at once)."""
    children, scanned = [], 0.0
    while not stop.wait(0.05):
        if time.monotonic() - scanned > 1:
            children, scanned = child_pids(), time.monotonic()
        peak[0] = max(peak[0], rss_mb() + sum(rss_mb(pid) for pid in children))


def _deliver(incoming: Path, landing: Path, night: str, sources: set[str] | None = None) -> None:
    from pipelines.cli import deliver_night

    if sources is None:
        deliver_night(incoming, landing, night)
        return
    for source in sources:      # only these sources send their snapshot of the night
        staged = incoming.parent / "one_source"
        shutil.rmtree(staged, ignore_errors=True)
        shutil.copytree(incoming / source, staged / source)
        deliver_night(staged, landing, night)
        shutil.rmtree(staged)


def io_floor(folder: Path) -> dict:
    """Seconds to read every raw transfer in force with pandas and to write every XPT of the output
    again with pyreadstat (read first, not timed)."""
    import pyreadstat

    from aclf.config import load_study

    read = sum(raw_read(str(folder / "landing"), name)[0] for name in load_study().source_names)
    write = 0.0
    scratch = folder / "floor.xpt"
    for path in sorted((folder / "output").rglob("*.xpt")):
        frame, meta = pyreadstat.read_xport(str(path))
        start = time.perf_counter()
        pyreadstat.write_xport(frame, str(scratch), file_format_version=5, table_name=meta.table_name,
                               file_label=meta.file_label, column_labels=meta.column_labels)
        write += time.perf_counter() - start
    scratch.unlink(missing_ok=True)
    return {"read": read, "write": write, "total": read + write}


def small_night(folder: Path, subjects: int) -> tuple[float, float]:
    """Seconds of ``aclf run`` on a fresh study in a new process (imports, Dagster and the night),
    then of the same command again, with no new transfer."""
    from aclf.synth import generate

    generate(folder / "landing", subjects=subjects, seed=3, nights=1, in_flight=())
    command = [sys.executable, "-m", "pipelines.cli", "run", "--quiet", "--landing", str(folder / "landing"),
               "--output", str(folder / "output"), "--archive", str(folder / "archive"),
               "--database-url", f"sqlite:///{folder / 'store.sqlite'}"]
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        seconds.append(time.perf_counter() - start)
    return seconds[0], seconds[1]


def small_nights(folder: Path, subjects: int, runs: int) -> list[tuple[float, float]]:
    """``small_night`` ``runs`` times, each on a fresh study: on a shared machine one run moves by a
    second or more, so the median is the figure."""
    results = []
    for run in range(runs):
        shutil.rmtree(folder / str(run), ignore_errors=True)
        results.append(small_night(folder / str(run), subjects))
    return results


def _print_layers(night: dict) -> None:
    for name, seconds, peak in night["layers"]:
        print(f"    {name:<24} {seconds:>8.1f} s   peak {peak:>6.0f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=150, help="subjects of the end-to-end night")
    parser.add_argument("--small-runs", type=int, default=3, help="end-to-end nights, each on a fresh study")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()

    from aclf.synth import generate

    shutil.rmtree(args.out, ignore_errors=True)
    big = args.out / "night"
    incoming = args.out / "incoming"
    start = time.perf_counter()
    summary = generate(incoming, subjects=args.subjects, seed=args.seed, nights=2, in_flight=())
    first, second = (n.replace("-", "") for n in summary.nights)
    print(f"generated {args.subjects:,} subjects ({summary.randomized:,} randomized), two nights, "
          f"in {time.perf_counter() - start:.0f} s; {os.cpu_count()} cores\n")

    _deliver(incoming, big / "landing", first)
    full = in_process(_night, str(big))
    floor = io_floor(big)
    ratio = full["seconds"] / floor["total"]
    print(f"full night        {full['seconds']:>8.1f} s   (success: {full['success']})")
    _print_layers(full)
    print(f"I/O floor         {floor['total']:>8.1f} s   (raw reads {floor['read']:.1f} s + "
          f"pyreadstat writing the night's XPT {floor['write']:.1f} s)")
    print(f"full / floor      {ratio:>8.2f} x   (target <= 2)")
    peak = max(p for _, _, p in full["layers"])
    print(f"peak RSS          {peak:>8.0f} MB  (target <= 1536; the warm worker beside it {full['worker']:.0f} MB; "
          f"both together {full['together']:.0f} MB)\n")

    _deliver(incoming, big / "landing", second, sources={"site01"})
    incremental = in_process(_night, str(big))
    share = incremental["seconds"] / full["seconds"]
    print(f"incremental night {incremental['seconds']:>8.1f} s   (site01 sent a new snapshot; success: "
          f"{incremental['success']})")
    _print_layers(incremental)
    print(f"incremental/full  {share:>8.2f} x   (target <= 0.2)")
    print(f"peak RSS          {max(p for _, _, p in incremental['layers']):>8.0f} MB  (target <= 1536; "
          f"the warm worker beside it {incremental['worker']:.0f} MB; both together {incremental['together']:.0f} MB)\n")

    unchanged = in_process(_night, str(big))
    print(f"night, no new transfer {unchanged['seconds']:>6.1f} s   ({unchanged['seconds'] / full['seconds']:.2f}x "
          f"of the full night; every step after ingestion kept; success: {unchanged['success']})")
    _print_layers(unchanged)
    print()

    runs = small_nights(args.out / "small", args.small, args.small_runs)
    first, again = (sorted(r[i] for r in runs) for i in (0, 1))
    print(f"{args.small}-subject night, end to end in a new process: {statistics.median(first):.1f} s   "
          f"(target <= 8; median of {len(runs)}: {', '.join(f'{s:.1f}' for s in first)})")
    print(f"the same night again, no new transfer:            {statistics.median(again):.1f} s   "
          f"({', '.join(f'{s:.1f}' for s in again)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
