"""Ingestion benchmark: a 10,000-subject synthetic study, each source ingested in its own process.

Prints, per source, the records read, the time to merely read the same raw files with pandas,
the time of the full ingestion (verify manifest, archive, read with the dialect, normalize, diff,
load into the store, reconcile), their ratio, records per second and the peak resident memory of
each process. Target: ingestion within 3x of the raw read. A script, not a test: figures vary.

    .venv/bin/python bench/ingest_bench.py [--subjects 10000] [--database-url URL] [--out bench/out]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _status_mb(process: str, field: str) -> float:
    try:
        for line in Path(f"/proc/{process}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:            # gone meanwhile
        return 0.0
    return float("nan")


def peak_mb(process: str = "self") -> float:
    """Peak resident memory of a process, this one by default (VmHWM; ru_maxrss would carry the
    parent's over exec)."""
    return _status_mb(process, "VmHWM")


def rss_mb(process: str = "self") -> float:
    """Resident memory of a process now (VmRSS); 0 for one that is gone."""
    return _status_mb(process, "VmRSS")


def child_pids() -> list[str]:
    """This process's running children (the nightly run's warm worker, the resource tracker)."""
    me, found = str(os.getpid()), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[1] == me:     # pid (comm) state ppid ...
                found.append(stat.parent.name)
        except (OSError, IndexError):      # gone meanwhile
            continue
    return found


def children_peak_mb() -> float:
    """The largest peak resident memory among this process's running children; 0 without any."""
    return max([0.0, *(peak_mb(pid) for pid in child_pids())])


def raw_read(landing: str, source_name: str) -> tuple[float, int]:
    """(seconds, rows) to read the newest transfer of a source with plain pandas: the floor for any loader."""
    import pandas as pd
    import pyreadstat

    from aclf.config import FormsSource, load_study
    from aclf.landing import discover

    source = load_study().sources[source_name]
    complete = [c for c in discover(source_name, Path(landing) / source_name, source.file) if c.status == "complete"]
    path = complete[-1].path
    start = time.perf_counter()
    spec = source.file
    if isinstance(source, FormsSource):
        files = [path / f.file for f in source.forms.values()] if spec.format == "folder" else [path]
        rows = sum(len(pd.read_csv(f, encoding=spec.encoding, sep=spec.delimiter, dtype=str)) for f in files)
    elif spec.format == "delimited":
        rows = len(pd.read_csv(path, encoding=spec.encoding, sep=spec.delimiter, dtype=str))
    elif spec.format == "excel":
        rows = len(pd.read_excel(path, sheet_name=spec.sheet, engine="openpyxl"))
    else:
        rows = len(pyreadstat.read_sav(str(path))[0])
    return time.perf_counter() - start, rows


def _raw_read(landing: str, source_name: str, queue) -> None:
    seconds, rows = raw_read(landing, source_name)
    queue.put({"raw_s": seconds, "raw_rows": rows, "raw_peak_mb": peak_mb()})


def _ingest(landing: str, archive: str, url: str, source_name: str, queue) -> None:
    from aclf.config import load_study
    from aclf.ingest import Paths, ingest_source
    from aclf.store import make_engine

    study, engine = load_study(), make_engine(url)
    start = time.perf_counter()
    outcomes = ingest_source(engine, study, source_name, Paths(Path(landing), Path(archive)))
    elapsed = time.perf_counter() - start
    loaded = next((o for o in outcomes if o.status == "loaded"), None)
    queue.put({"ingest_s": elapsed, "records": loaded.rows_read if loaded else 0,
               "balanced": loaded.balanced if loaded else None, "ingest_peak_mb": peak_mb()})


def in_process(target, *args) -> dict:
    """Run ``target(*args, queue)`` in a fresh (spawned) process; what it put on the queue."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--database-url", help="default: a fresh SQLite file under --out")
    args = parser.parse_args()

    from aclf.config import load_study
    from aclf.synth import generate

    if args.out.exists():
        shutil.rmtree(args.out)
    landing, archive = args.out / "landing", args.out / "archive"
    url = args.database_url or f"sqlite:///{(args.out / 'bench.sqlite').resolve()}"
    start = time.perf_counter()
    summary = generate(landing, subjects=args.subjects, seed=args.seed, nights=1, in_flight=())
    print(f"generated {args.subjects:,} subjects ({summary.randomized:,} randomized) "
          f"in {time.perf_counter() - start:.1f} s -> {landing}")
    print(f"store: {url}\n")
    header = (f"{'source':<8} {'records':>10} {'raw read s':>11} {'ingest s':>9} {'ratio':>6} "
              f"{'records/s':>10} {'peak MB raw':>12} {'peak MB ingest':>15}  balanced")
    print(header)
    print("-" * len(header))
    total_raw = total_ingest = total_records = 0.0
    for name in load_study().source_names:
        raw = in_process(_raw_read, str(landing), name)
        ing = in_process(_ingest, str(landing), str(archive), url, name)
        ratio = ing["ingest_s"] / raw["raw_s"] if raw["raw_s"] else float("nan")
        rate = ing["records"] / ing["ingest_s"] if ing["ingest_s"] else 0
        total_raw += raw["raw_s"]
        total_ingest += ing["ingest_s"]
        total_records += ing["records"]
        print(f"{name:<8} {ing['records']:>10,} {raw['raw_s']:>11.2f} {ing['ingest_s']:>9.2f} {ratio:>6.1f} "
              f"{rate:>10,.0f} {raw['raw_peak_mb']:>12.0f} {ing['ingest_peak_mb']:>15.0f}  {ing['balanced']}")
    print("-" * len(header))
    print(f"{'total':<8} {int(total_records):>10,} {total_raw:>11.2f} {total_ingest:>9.2f} "
          f"{total_ingest / total_raw:>6.1f} {total_records / total_ingest:>10,.0f}")
    print(f"\ntarget: ingestion within 3x of the raw pandas read -> "
          f"{'met' if total_ingest <= 3 * total_raw else 'NOT met'} overall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
