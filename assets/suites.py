"""Tonight's expectation suites, started and collected: they run in the night's warm worker
(aclf.warm_worker) while the caller goes on, and the ``quality_docs`` step (assets.quality)
collects them. A nightly run tagged ``AHEAD_TAG`` starts them before their step: harmonization as
soon as the table's Parquet copy exists, or the findings' step, so that they overlap other work."""
import json
from collections.abc import Callable
from concurrent.futures import CancelledError
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from aclf.blinding import blinded_forms
from aclf.current import forms_in_force
from aclf.harmonized_lab import harmonized_lab_file, load_harmonized_lab
from aclf.inputs import built_by, kept, night_inputs, remember
from aclf.warm_worker import submit
from assets.resources import AclfResource
from validation.quality_result import QualityResult

QUALITY_DIR = "quality"
RESULT_FILE = "result.json"
STEP = "quality_docs"    # its record in the store's layer_input (aclf.inputs)
AHEAD_TAG = "aclf/suites_ahead"

Suites = Callable[[], tuple[QualityResult, bool]]    # waits for them: (their result, whether it was kept)


def quality_inputs(study) -> tuple[dict, dict]:
    """The suite's parameters from the configuration: tests (unit, plausible range), EDC form rules."""
    tests = {code: {"unit": t.standard_unit, "low": t.plausible[0], "high": t.plausible[1]}
             for code, t in study.lab.tests.items()}
    edc = study.sources["edc"]
    forms = {name: {"key": spec.key, "subject": spec.subject, "values": spec.values,
                    "ranges": {c: list(r) for c, r in spec.ranges.items()}} for name, spec in edc.forms.items()}
    return tests, forms


def start_quality(aclf: AclfResource, lab_file: Path | None = None) -> Suites:
    """Start tonight's suites on ``lab_file`` (the Parquet copy of the table about to be saved) or
    on the table in force, and return what waits for them. They run in the warm worker, which
    imported Great Expectations (3-4 s) during ingestion (inline, done on return, without one);
    kept when the inputs are those of the Data Docs in force. Named by module: every process that
    loads the definitions would pay the import."""
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
    lab = lab_file or harmonized_lab_file(engine, mirror) or load_harmonized_lab(engine, mirror)
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


# Suites started ahead of their step, by output folder and the night's inputs: the step that comes
# later in the same process collects them (take_or_start).
_ahead: dict[tuple[str, str | None], Suites] = {}


def _key(aclf: AclfResource) -> tuple[str, str | None]:
    return str(aclf.output.resolve()), night_inputs(aclf.engine(), aclf.study_dir)


def start_ahead(aclf: AclfResource, lab_file: Path | None = None) -> None:
    """Start tonight's suites now, for the quality_docs step of a later run of this process, unless
    they were started on the same inputs already (by harmonization, on ``lab_file``)."""
    key = _key(aclf)
    if key not in _ahead:
        _ahead[key] = start_quality(aclf, lab_file)


def take_or_start(aclf: AclfResource) -> Suites:
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
