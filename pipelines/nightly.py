"""The whole nightly job, once, in process: every source partition, then the study layers, then the
run report. Used by the CLI and the tests; runs the real Dagster assets (``dagster.materialize``).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg
import sqlalchemy as sa

from aclf import warm_worker
from aclf.harmonized_lab import let_go
from aclf.lock import store_lock
from aclf.settings import Settings
from aclf.store import check_reachable, lab_result, make_engine
from assets.configuration import load_configuration
from assets.quality import QUALITY
from assets.suites import AHEAD_TAG, drop_ahead
from assets.resources import AclfResource
from assets.validation import FINDINGS
from pipelines.definitions import build_assets
from pipelines.unblinded import unblinded_assets


@dataclass
class NightlyResult:
    success: bool
    failures: list[str]
    blocked: list[str] = field(default_factory=list)   # checks that kept a package from being built on


def _blocked_checks(result: dg.ExecuteInProcessResult) -> tuple[list[str], bool]:
    """(the blocking checks that failed, whether anything else failed): a package refused by its spec
    check is a data problem the run report explains, not a failure of the pipeline."""
    checks, other = [], False
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed and evaluation.blocking:
                checks.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}")
        elif event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            if not error or "DagsterAssetCheckFailedError" not in error.cls_name:
                other = True
    return checks, other


# The study layers in the order they build on each other, one run each (in-process runs execute
# their steps one after the other anyway); SDTM and ADaM share a run so that a blocking SDTM check
# keeps the ADaM of a refused package from being built.
WAVES = [("harmonization", {"harmonized"}), ("validation", {"validation"}), ("SDTM and ADaM", {"sdtm", "adam"})]
# The warm worker (aclf.warm_worker) starts with the suites' library; harmonization validates the
# rebuilt table there while it saves it (assets.suites.validate_ahead). Up to this many lab records
# stored once the night's transfers are in, it imports the figures' too and serves both phases: the
# suites run there while SDTM and ADaM are built, and their step is the night's last run (150
# subjects: 1.5 s less). Above it, the suites are collected before SDTM, and a worker for the figures
# replaces theirs: one that ran them over 800,000 records idles at 420 MB, too much beside SDTM and ADaM.
ONE_WORKER_UP_TO = 100_000


def run_nightly(settings: Settings, instance: dg.DagsterInstance | None = None, log_level: str = "INFO",
                lock_wait: float = 0, progress: Callable[[str], None] | None = None) -> NightlyResult:
    """The night under the store's run lock (``lock_wait`` seconds for another run to finish, then
    StoreBusy); a wrong landing zone or output, or an unreachable store, is a ConfigError before any work.
    ``progress`` receives one line per source and per layer as each finishes."""
    settings.check_layout(load_configuration(settings.study_dir).study.source_names)
    check_reachable(settings.database_url)
    with store_lock(make_engine(settings.database_url), wait_seconds=lock_wait), warm_worker.running():
        try:
            return _run_nightly(settings, instance, log_level, progress or (lambda line: None))
        finally:
            drop_ahead()
            let_go()


def _lab_records(engine: sa.Engine) -> int:
    """The lab records the store holds (a night's size, known once its transfers are ingested)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(lab_result)).scalar_one()


def _waves(layers: list[dg.AssetsDefinition]) -> list[tuple[str, list[dg.AssetsDefinition]]]:
    """The layers by wave; a layer of a group no wave names is an error, never silently skipped."""
    groups = {id(d): set(d.group_names_by_key.values()) for d in layers}
    known = set().union(*(wanted for _, wanted in WAVES))
    stray = sorted(g for d in layers for g in groups[id(d)] - known)
    if stray:
        raise ValueError(f"asset groups in no wave of the nightly run: {stray}")
    return [(name, [d for d in layers if groups[id(d)] & wanted]) for name, wanted in WAVES]


def _run_nightly(settings: Settings, instance: dg.DagsterInstance | None, log_level: str,
                 progress: Callable[[str], None]) -> NightlyResult:
    """Materialize ingestion for each source, then everything downstream, then the run report
    (also after a failure, so that it says which package was not refreshed); collect failures.

    Runs go to the instance of $DAGSTER_HOME when set (so ``dagster dev`` shows them), else to an
    ephemeral one; ``log_level`` is the console log level of the runs."""
    if instance is None:
        instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    config = load_configuration(settings.study_dir)
    staged, *layers, report = build_assets(config)
    resources = {"aclf": AclfResource.from_settings(settings)}
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    tags = {"aclf/trigger": "cli"}

    def materialize(assets, extra_tags: dict | None = None, **kwargs) -> dg.ExecuteInProcessResult:
        return dg.materialize(assets, resources=resources, run_config=run_config, instance=instance,
                              raise_on_error=False, tags={**tags, **(extra_tags or {})}, **kwargs)

    def run_wave(name: str, wave: list[dg.AssetsDefinition], **kwargs) -> bool:
        """Whether the night goes on after the wave (a package refused by its checks does)."""
        started = time.monotonic()
        result = materialize(wave, **kwargs)
        checks, other = _blocked_checks(result) if not result.success else ([], False)
        blocked.extend(checks)
        state = "done" if result.success else ("refused by its spec checks" if checks and not other else "FAILED")
        progress(f"{name}: {state} ({time.monotonic() - started:.1f} s)")
        if other or (not result.success and not checks):
            if "study layers" not in failures:
                failures.append("study layers")
            return False
        return True

    failures, blocked, suites_last = [], [], None
    for source in config.study.source_names:
        started = time.monotonic()
        ok = materialize([staged], partition_key=source).success
        progress(f"ingestion of {source}: {'done' if ok else 'FAILED'} ({time.monotonic() - started:.1f} s)")
        if not ok:
            failures.append(f"ingestion of {source}")
    one_worker = _lab_records(resources["aclf"].engine()) <= ONE_WORKER_UP_TO
    if one_worker:
        warm_worker.also(warm_worker.FIGURES)
    for name, wave in _waves(layers):
        kwargs = {}
        if name == "validation" and one_worker:
            kwargs, suites_last = {"selection": [FINDINGS], "extra_tags": {AHEAD_TAG: "true"}}, wave
        if name == "SDTM and ADaM" and not one_worker:
            warm_worker.rewarm(warm_worker.FIGURES)
        if not run_wave(name, wave, **kwargs):
            break
    if suites_last:                   # also after a failure: the suites' result lands, as in one wave
        run_wave("expectation suites", suites_last, selection=[QUALITY])
    warm_worker.rewarm(())          # the unblinded area draws its figures itself (by arm)
    if settings.unblinded:
        # in a throwaway instance: nothing of the unblinded area enters the persistent event log
        unblinded = dg.materialize(unblinded_assets(settings), resources=resources, run_config=run_config,
                                   instance=dg.DagsterInstance.ephemeral(), raise_on_error=False, tags=tags)
        checks, other = _blocked_checks(unblinded) if not unblinded.success else ([], False)
        blocked += checks
        if other or (not unblinded.success and not checks):
            failures.append("unblinded area")
        progress(f"unblinded area: {'FAILED' if 'unblinded area' in failures else 'done'}")
    if not materialize([report]).success:
        failures.append("run report")
    progress(f"run report: {'FAILED' if 'run report' in failures else 'done'}")
    return NightlyResult(success=not failures, failures=failures, blocked=blocked)
