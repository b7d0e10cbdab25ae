"""great-expectations suites over the harmonized lab table and the EDC forms, with Data Docs: the
``quality_docs`` asset, computed in the validation step beside the findings (assets.validation), or
started there and collected in a later run of the night (start_ahead, take_or_start)."""
import json
from collections.abc import Callable
from concurrent.futures import CancelledError
from concurrent.futures.process import BrokenProcessPool

import dagster as dg

from aclf.blinding import blinded_forms
from aclf.current import forms_in_force
from aclf.harmonized_lab import harmonized_lab_file, load_harmonized_lab
from aclf.inputs import built_by, kept, night_inputs, remember
from aclf.warm_worker import submit
from assets.catalog import layer
from assets.harmonized import harmonized_lab
from assets.resources import AclfResource
from validation.quality_result import QualityResult

QUALITY = dg.AssetKey("quality_docs")
QUALITY_DIR = "quality"
RESULT_FILE = "result.json"
CHECK = "expectations"
STEP = "quality_docs"    # its record in the store's layer_input (aclf.inputs)

QUALITY_SPEC = dg.AssetSpec(
    QUALITY, deps=[harmonized_lab], **layer("validation"), kinds={"great_expectations", "html"},
    automation_condition=dg.AutomationCondition.eager(),
    description="The nightly expectation suites and their HTML Data Docs under ``<output>/quality/``, on the forms "
                "as a blinded reader may see them (no stage-2 rows: their values and counts would tell). A suite "
                "whose frame is as it was last night is not run again: its result is reused.")
QUALITY_CHECK = dg.AssetCheckSpec(CHECK, asset=QUALITY, description="every expectation of every suite passes")


def quality_inputs(study) -> tuple[dict, dict]:
    """The suite's parameters from the configuration: tests (unit, plausible range), EDC form rules."""
    tests = {code: {"unit": t.standard_unit, "low": t.plausible[0], "high": t.plausible[1]}
             for code, t in study.lab.tests.items()}
    edc = study.sources["edc"]
    forms = {name: {"key": spec.key, "subject": spec.subject, "values": spec.values,
                    "ranges": {c: list(r) for c, r in spec.ranges.items()}} for name, spec in edc.forms.items()}
    return tests, forms


def start_quality(aclf: AclfResource) -> Callable[[], tuple[QualityResult, bool]]:
    """Start tonight's suites and return what waits for them: (their result, whether it was kept).
    They run in the night's warm worker, which imported Great Expectations (3-4 s) during ingestion,
    while the caller goes on (inline, done on return, without one); kept when the inputs are those
    of the Data Docs in force. Named by module: every process that loads the definitions would pay
    the import."""
    study, engine = aclf.study(), aclf.engine()
    folder = aclf.output / QUALITY_DIR
    inputs = night_inputs(engine, aclf.study_dir)
    if kept(engine, STEP, inputs) is not None and (folder / RESULT_FILE).exists():
        summary = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
        result = QualityResult(success=summary["success"], evaluated=summary["evaluated"], failed=summary["failed"],
                               data_docs=folder.resolve() / summary["data_docs"])
        return lambda: (result, True)
    tests, form_rules = quality_inputs(study)
    mirror = aclf.mirror()
    in_force = forms_in_force(engine, study, mirror, aclf.study_dir)
    forms = {k: v for k, v in blinded_forms(study, in_force).items() if k in form_rules}
    # the worker reads the lab table's Parquet copy itself, only the columns its suite looks at
    lab = harmonized_lab_file(engine, mirror) or load_harmonized_lab(engine, mirror)
    running = submit("validation.quality", "run_quality", lab, forms, folder, tests=tests, form_rules=form_rules,
                     kept=mirror / QUALITY_DIR, version=built_by(aclf.study_dir))

    def finish() -> tuple[QualityResult, bool]:
        result = running.result()
        summary = {"success": result.success, "evaluated": result.evaluated, "failed": result.failed,
                   "data_docs": result.data_docs.name}   # relative: no path of this machine in an output
        (folder / RESULT_FILE).write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
        remember(engine, STEP, inputs, {})
        return result, False

    return finish


# Suites started ahead of their step (``AHEAD_TAG`` on the findings' run), by output folder and the
# night's inputs: the step that comes later in the same process collects them (take_or_start).
AHEAD_TAG = "aclf/suites_ahead"
_ahead: dict[tuple[str, str | None], Callable[[], tuple[QualityResult, bool]]] = {}


def _key(aclf: AclfResource) -> tuple[str, str | None]:
    return str(aclf.output.resolve()), night_inputs(aclf.engine(), aclf.study_dir)


def start_ahead(aclf: AclfResource) -> None:
    """Start tonight's suites now, for the quality_docs step of a later run of this process: in a
    small night they run in the warm worker while SDTM and ADaM are built (pipelines.nightly)."""
    _ahead[_key(aclf)] = start_quality(aclf)


def take_or_start(aclf: AclfResource) -> Callable[[], tuple[QualityResult, bool]]:
    """What waits for tonight's suites: those started ahead on the same inputs, else started now. A
    run started ahead that was lost with its worker (killed, or never collected: drop_ahead) is
    started again."""
    finish = _ahead.pop(_key(aclf), None)
    if finish is None:
        return start_quality(aclf)

    def collect() -> tuple[QualityResult, bool]:
        try:
            return finish()
        except (BrokenProcessPool, CancelledError):
            return start_quality(aclf)()

    return collect


def drop_ahead() -> None:
    """Forget suites started ahead and not collected (a night that stopped before their step)."""
    _ahead.clear()


def quality_materialization(context: dg.AssetExecutionContext, result: QualityResult, keep: bool
                            ) -> dg.MaterializeResult:
    """The asset's materialization: where the Data Docs are, and the check with each failed expectation."""
    table = "\n".join(["| suite | expectation | column | detail |", "|---|---|---|---|"] +
                      [f"| {f['suite']} | {f['expectation']} | {f['column']} | {f['detail']} |" for f in result.failed])
    context.log.info(f"{result.evaluated} expectations, {len(result.failed)} failed; Data Docs {result.data_docs}")
    return dg.MaterializeResult(
        asset_key=QUALITY,
        metadata={"data_docs": dg.MetadataValue.path(str(result.data_docs)),
                  "evaluated": dg.MetadataValue.int(result.evaluated), "kept": dg.MetadataValue.bool(keep)},
        check_results=[dg.AssetCheckResult(
            asset_key=QUALITY, check_name=CHECK, passed=result.success, severity=dg.AssetCheckSeverity.WARN,
            metadata={"failed": dg.MetadataValue.int(len(result.failed)),
                      "failures": dg.MetadataValue.md(table if result.failed else "none")})])
