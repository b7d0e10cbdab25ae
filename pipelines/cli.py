"""``aclf``: generate a synthetic study, run the nightly job, or both (demo).

Exit status: 0 when the pipeline ran (whatever the data findings), 1 when the pipeline itself
failed, 2 for a usage or configuration error.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
from pathlib import Path

from aclf.blinding import load_unblinding
from aclf.config import ConfigError, load_study
from aclf.lock import StoreBusy

DEMO_SUBJECTS = 150


def _generate(args) -> int:
    from aclf.synth import generate

    summary = generate(args.landing, subjects=args.subjects, seed=args.seed, nights=args.nights)
    print(f"synthetic study written to {Path(args.landing).resolve()}: {summary.screened} screened, "
          f"{summary.randomized} randomized, nights {', '.join(summary.nights)}")
    return 0


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _print_locations(settings) -> None:
    print(f"\nlanding zone : {settings.landing}\nstore        : {_redact(settings.database_url)}\n"
          f"raw archive  : {settings.archive}  (the only place personal data remains)\n"
          f"outputs      : {settings.output}\nrun report   : {settings.output / 'run_report.json'}")


def run_once(settings, show_locations: bool = True, lock_wait: float = 0, quiet: bool = False) -> int:
    """Run the nightly job in process (a line per source and per layer as each finishes, unless
    ``quiet``) and print the reconciliation summary of the run report it wrote."""
    from aclf import warm_worker
    from aclf.collector import prepare_process
    from aclf.report import REPORT_NAME, format_summary

    load_study(settings.study_dir)          # a broken configuration: exit 2 before any work
    with warm_worker.running():             # started before the job's own imports (1-2 s), which it overlaps too
        prepare_process("pipelines.nightly")
        from pipelines.nightly import run_nightly

        result = run_nightly(settings, log_level="WARNING", lock_wait=lock_wait,
                             progress=None if quiet else lambda line: print(f"  {line}", flush=True))
    if not result.success:
        print(f"PIPELINE FAILED: {', '.join(result.failures)} (see the run logs above); what was loaded "
              f"before the failure stays in the store, and the run report says which packages are not "
              f"refreshed", file=sys.stderr)
        return 1
    print(format_summary(json.loads((settings.output / REPORT_NAME).read_text(encoding="utf-8"))))
    if show_locations:
        _print_locations(settings)
    return 0


def _run(args) -> int:
    from aclf.settings import Settings

    settings = Settings.resolve(landing=args.landing, output=args.output, archive=args.archive,
                                database_url=args.database_url, study_dir=args.study, unblinding=args.unblinding,
                                unblinded_output=args.unblinded_output)
    if settings.unblinded:
        load_unblinding(settings.unblinding)      # a broken authorization file: exit 2 before any work
    return run_once(settings, lock_wait=args.wait, quiet=args.quiet)


def deliver_night(incoming: Path, landing: Path, night: str) -> list[str]:
    """Copy one night's transfers (names carrying ``_<YYYYMMDD>``) from incoming to the landing zone."""
    delivered = []
    for source_dir in sorted(p for p in incoming.iterdir() if p.is_dir()):
        for entry in sorted(source_dir.iterdir()):
            if f"_{night}" not in entry.name:
                continue
            dest = landing / source_dir.name / entry.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, dest)
            delivered.append(f"{source_dir.name}/{entry.name}")
    return delivered


def _demo(args) -> int:
    """Generate a study, then deliver and run it night by night, as the sites would."""
    from aclf.settings import Settings
    from aclf.synth import generate

    root = Path(args.dir).resolve()
    if root.exists():
        shutil.rmtree(root)
    incoming = root / "incoming"
    summary = generate(incoming, subjects=args.subjects, seed=args.seed, nights=args.nights)
    print(f"synthetic study: {summary.screened} screened, {summary.randomized} randomized, "
          f"{len(summary.nights)} nights of transfers in {incoming}")
    settings = Settings.resolve(landing=root / "landing", output=root / "output", archive=root / "var" / "archive",
                                database_url=args.database_url or f"sqlite:///{root / 'var' / 'aclf.sqlite'}",
                                study_dir=args.study)
    for night in summary.nights:
        delivered = deliver_night(incoming, settings.landing, night.replace("-", ""))
        print(f"\n=== night {night}: {len(delivered)} files delivered to the landing zone; nightly job")
        status = run_once(settings, show_locations=False, quiet=args.quiet)
        if status:
            return status
    _print_locations(settings)
    return _demo_unblinded(root, settings, args.quiet)


DEMO_AUTHORIZATION = """# A demo authorization: both stages unblinded (see aclf/blinding.py for the levels).
- {stage: 1, authorized_by: Demo DMC chair, authorized_on: 2025-01-15, reference: DEMO-DMC-001}
- {stage: 2, authorized_by: Demo DMC chair, authorized_on: 2025-06-15, reference: DEMO-DMC-002}
"""


def _demo_unblinded(root: Path, blinded, quiet: bool = False) -> int:
    """The last night once more under a demo authorization, into ``<dir>/unblinded`` (restricted)."""
    from dataclasses import replace

    authorization = root / "unblinding.yaml"
    authorization.write_text(DEMO_AUTHORIZATION, encoding="utf-8")
    settings = replace(blinded, unblinding=authorization, unblinded_output=root / "unblinded")
    settings.check_unblinded_area()
    print(f"\n=== authorized unblinding ({authorization.name}): the unblinded area")
    status = run_once(settings, show_locations=False, quiet=quiet)
    if not status:
        print(f"unblinded area : {settings.unblinded_output}  (owner only: for the unblinded statistician and DMC)\n"
              f"unblinded report: {settings.unblinded_output / 'reports' / 'unblinded_report.html'}")
    return status


def _store(args):
    """The store and study of the review commands (exit 2 if the store does not answer)."""
    from aclf.settings import Settings
    from aclf.store import check_reachable, make_engine

    settings = Settings.resolve(database_url=args.database_url, study_dir=args.study)
    check_reachable(settings.database_url)
    return make_engine(settings.database_url), load_study(settings.study_dir), settings


def _show(table, csv_path: Path | None, empty: str) -> None:
    """A table on the terminal, or a CSV file (with a BOM, formula-safe) for Excel."""
    from validation.cells import CSV_ENCODING, CSV_LINES, for_csv

    if csv_path:
        for_csv(table).to_csv(csv_path, index=False, encoding=CSV_ENCODING, lineterminator=CSV_LINES)
        print(f"{len(table)} rows written to {csv_path}")
    elif table.empty:
        print(empty)
    else:
        print(table.fillna("").to_string(index=False, max_colwidth=70))
        print(f"({len(table)} rows)")


def _findings(args) -> int:
    from aclf.review import select_findings

    engine, _, _ = _store(args)
    table = select_findings(engine, site=args.site, rule=args.rule, status=args.status, new=args.new)
    if not args.csv:
        table = table.drop(columns=["file", "row_number", "last_seen", "closed_at"])
    _show(table, args.csv, "no findings match")
    return 0


def _audit(args) -> int:
    from aclf.review import subject_history
    from cdisc.blinding_audit import load_audit_config

    engine, study, settings = _store(args)
    patterns = load_audit_config(settings.study_dir / "blinding_audit.yaml").identifier_patterns
    _show(subject_history(engine, study, args.subject, patterns), args.csv,
          f"no audited changes for subject {args.subject}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from aclf.version import code_version

    parser = argparse.ArgumentParser(prog="aclf", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"aclf {code_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write DTS-conformant synthetic transfers into a landing zone")
    gen.add_argument("--subjects", type=int, default=DEMO_SUBJECTS)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--landing", required=True, type=Path)
    gen.add_argument("--nights", type=int, default=3)
    gen.set_defaults(func=_generate)

    run = sub.add_parser("run", help="run the whole nightly job once, in process")
    run.add_argument("--landing", type=Path, help="landing zone root (ACLF_LANDING_DIR)")
    run.add_argument("--output", type=Path, help="output root (ACLF_OUTPUT_DIR)")
    run.add_argument("--database-url", help="SQLAlchemy URL of the store (ACLF_DATABASE_URL)")
    run.add_argument("--archive", type=Path, help="raw archive root, apart from outputs (ACLF_ARCHIVE_DIR)")
    run.add_argument("--study", type=Path, help="study configuration folder (ACLF_STUDY_DIR)")
    run.add_argument("--unblinding", type=Path,
                     help="authorization file of an unblinding (YAML; ACLF_UNBLINDING_FILE): builds the unblinded area")
    run.add_argument("--unblinded-output", type=Path,
                     help="root of the unblinded area, outside the blinded output (ACLF_UNBLINDED_OUTPUT_DIR)")
    run.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                     help="wait this long for another run on the same store to finish (default: refuse at once)")
    run.add_argument("--quiet", action="store_true", help="no progress lines, only the summary")
    run.set_defaults(func=_run)

    demo = sub.add_parser("demo", help="generate a synthetic study and run it night by night")
    demo.add_argument("--dir", default="demo", help="working folder, recreated (default ./demo)")
    demo.add_argument("--subjects", type=int, default=DEMO_SUBJECTS)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--nights", type=int, default=3)
    demo.add_argument("--database-url", help="store URL (default: SQLite under <dir>/var)")
    demo.add_argument("--study", type=Path, help="study configuration folder")
    demo.add_argument("--quiet", action="store_true", help="no progress lines, only the summaries")
    demo.set_defaults(func=_demo)

    def store_options(command):
        command.add_argument("--database-url", help="SQLAlchemy URL of the store (ACLF_DATABASE_URL)")
        command.add_argument("--study", type=Path, help="study configuration folder (ACLF_STUDY_DIR)")
        command.add_argument("--csv", type=Path, metavar="FILE", help="write every column to a CSV file for Excel")

    found = sub.add_parser("findings", help="list the findings in the store (blinded), filtered")
    found.add_argument("--site", help="site number, e.g. 01")
    found.add_argument("--rule", help="rule name, e.g. visit_out_of_window")
    found.add_argument("--status", choices=["open", "closed", "all"], default="open")
    found.add_argument("--new", action="store_true", help="only those first seen on the latest night")
    store_options(found)
    found.set_defaults(func=_findings)

    audit = sub.add_parser("audit", help="one subject's change history (added, changed, vanished records)")
    audit.add_argument("--subject", required=True, help="SUBJID, e.g. 01-007")
    store_options(audit)
    audit.set_defaults(func=_audit)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:                 # `aclf findings | head`: the reader has all it wants
        sys.stdout = open(os.devnull, "w")
        return 0
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except StoreBusy as exc:
        print(f"store busy: {exc}", file=sys.stderr)
        return 2


def script() -> None:
    """The ``aclf`` command: ``main``, then exit without collecting the objects the night left behind.
    At exit the interpreter's collector walked every object of Dagster, pandas and SQLAlchemy for
    0.5-0.7 s; frozen (gc.freeze) they are left alone, and finalizers and exit handlers still run."""
    status = main()
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    script()
