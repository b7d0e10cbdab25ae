"""Tonight's expectation suites, started and collected: they run in the night's warm worker
(aclf.warm_worker) while the caller goes on, and the ``quality_docs`` step (assets.quality)
collects them; the findings' step of a nightly run tagged ``AHEAD_TAG`` starts them for a later
run. Harmonization validates the rebuilt table ahead (``validate_ahead``), before the store saves
it: those results are only kept, for the suites' run to reuse, and no output is touched until then."""
import json
from collections.abc import Callable
from concurrent.futures import CancelledError
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pandas as pd

from aclf.blinding import blinded_forms
from aclf.current import forms_in_force
from aclf.harmonized_lab import harmonized_lab_file, load_harmonized_lab
from aclf.inputs import built_by, kept, night_inputs, remember
from aclf.warm_worker import has_worker, submit
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


def _kept_result(aclf: AclfResource, inputs: str | None) -> QualityResult | None:
    """The result of the Data Docs in force when they were drawn from tonight's inputs."""
    folder = aclf.output / QUALITY_DIR
    if kept(aclf.engine(), STEP, inputs) is None or not (folder / RESULT_FILE).exists():
        return None
    summary = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
    return QualityResult(success=summary["success"], evaluated=summary["evaluated"], failed=summary["failed"],
                         data_docs=folder.resolve() / summary["data_docs"])


def _submit(aclf: AclfResource, lab: Path | pd.DataFrame, folder: Path | None):
    """run_quality in the warm worker (inline without one) on ``lab``, a Parquet copy of which the
    worker reads only the columns its suite looks at, and on the forms as a blinded reader sees them.
    Named by module: every process that loads the definitions would pay Great Expectations' import."""
    study, engine, mirror = aclf.study(), aclf.engine(), aclf.mirror()
    tests, form_rules = quality_inputs(study)
    in_force = forms_in_force(engine, study, mirror, aclf.study_dir)
    forms = {k: v for k, v in blinded_forms(study, in_force).items() if k in form_rules}
    return submit("validation.quality", "run_quality", lab, forms, folder, tests=tests, form_rules=form_rules,
                  kept=mirror / QUALITY_DIR, version=built_by(aclf.study_dir))


def validate_ahead(aclf: AclfResource, lab_file: Path) -> None:
    """Run the suites on ``lab_file``, the Parquet copy of the table harmonization is about to save,
    in the warm worker while it saves (none without a worker): their results are kept in the mirror,
    nothing is drawn. The suites' run, once the table is in force, reuses them (the same frames):
    at 10,000 subjects the findings' step waited 2-3 s for the suites run from scratch. Results
    are kept under the code's version: none with uncommitted changes, then nothing is run ahead."""
    if has_worker() and built_by(aclf.study_dir) is not None and \
            _kept_result(aclf, night_inputs(aclf.engine(), aclf.study_dir)) is None:
        _submit(aclf, lab_file, None)


def start_quality(aclf: AclfResource) -> Suites:
    """Start tonight's suites on the table in force and return what waits for them (their Data Docs
    drawn under the output, reusing any suite's result kept for the same frame); kept whole when
    the inputs are those of the Data Docs in force."""
    engine, mirror = aclf.engine(), aclf.mirror()
    folder = aclf.output / QUALITY_DIR
    inputs = night_inputs(engine, aclf.study_dir)
    result = _kept_result(aclf, inputs)
    if result is not None:
        return lambda: (result, True)
    running = _submit(aclf, harmonized_lab_file(engine, mirror) or load_harmonized_lab(engine, mirror), folder)

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


def start_ahead(aclf: AclfResource) -> None:
    """Start tonight's suites now, for the quality_docs step of a later run of this process."""
    _ahead[_key(aclf)] = start_quality(aclf)


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
