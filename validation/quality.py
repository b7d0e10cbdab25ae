"""Great Expectations checks of the harmonized lab table and the EDC forms, rendered as Data Docs:
one quality gate over the study-wide data that a data manager can also read in a browser."""
from __future__ import annotations

import datetime
import gc
import shutil
from collections.abc import Mapping
from pathlib import Path

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
import pyarrow.parquet as pq
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.data_context.context_factory import project_manager
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.row_conditions import Column

from aclf.disclosure import PERSON_LIKE, is_person_like, quote
from validation.quality_index import GX_INDEX, write_index
from validation.quality_result import QualityResult
from validation.quality_reuse import keep_results, kept_result, suite_key

LAB_SUITE = "harmonized_lab"
LAB_COLUMNS = ("subjid", "site_id", "lbtestcd", "lbdtc", "lbstresu", "lbstat", "lbreasnd", "lborres", "lbstresn")
SUBJID = r"^[0-9]{2}-[0-9]{3,4}$"
# Non-capturing groups: GX matches with Series.str.contains, which warns about capturing ones.
ISO_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2})?$"
NUMBER_OR_EMPTY = r"^(?:[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))?$"
LBSTAT = ("", "NOT DONE")
SITE = "quality"
NO_PAGE = "(no page to draw)"
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 20}
SHOWN_VALUES = 5
# What the Data Docs site builder writes under its base directory.
DOCS_ENTRIES = ("index.html", GX_INDEX, "static", "expectations", "validations")


def run_quality(lab: pd.DataFrame | Path, forms: Mapping[str, pd.DataFrame], output_dir: Path | None, *,
                tests: Mapping[str, Mapping], form_rules: Mapping[str, Mapping], kept: Path | None = None,
                version: str | None = None) -> QualityResult | None:
    """Validate the lab table (or its Parquet copy, of which only the suite's columns are read) and
    every form in ``form_rules``; write Data Docs to ``output_dir``.
    With ``kept`` (a folder) and ``version`` (aclf.inputs.built_by), each suite's result is kept
    there, and a suite whose frame did not change since is not run again. Without ``output_dir``,
    the results are only kept (for a later run on the same frames to draw), and None is returned."""
    if output_dir is None and not (kept and version):
        raise ValueError("results neither drawn nor kept: give output_dir, or kept and version")
    output_dir = Path(output_dir).resolve() if output_dir is not None else None
    missing = sorted(set(form_rules) - set(forms))
    if missing:
        raise KeyError(f"form rules without a form frame: {missing}")
    # only the columns the suite looks at: GX copies and filters the frame per expectation. One
    # suite over the whole table: a suite per lab source, which a site's night could run alone,
    # took 3.5 s instead of 0.9 s at 150 subjects (GX pays about 20 ms per expectation and batch)
    if isinstance(lab, Path):
        lab = pd.read_parquet(lab, columns=[c for c in LAB_COLUMNS if c in pq.read_schema(lab).names])
    batches = {LAB_SUITE: (coded(lab[[c for c in LAB_COLUMNS if c in lab.columns]]), lab_suite(tests))}
    del lab               # the text as read: the suite runs on the coded copy (35 MB of the worker's peak)
    for form, rules in form_rules.items():
        batches[form_suite_name(form)] = (numeric_copy(forms[form], rules), form_suite(form, rules))

    context = quiet_context(output_dir)
    source = context.data_sources.add_pandas("frames")
    # GX's hook for another engine is a class attribute meant for tests: set on this source alone
    object.__setattr__(source, "execution_engine_override", FilteredOnce)
    run_id = RunIdentifier(run_name="quality", run_time=datetime.datetime.now(datetime.timezone.utc))
    results, keys, reuse = {}, {}, {}
    for name, (frame, suite) in batches.items():
        keys[name] = suite_key(version, suite.to_json_dict(), frame) if kept and version else None
        previous = kept_result(kept, name, keys[name]) if keys[name] else None
        if previous:
            results[name], reuse[name] = reused(context, suite, previous), previous
        else:
            results[name] = validate(context, source, frame, suite, run_id)
            withhold_personal(results[name])
    del batches
    store = context.validation_results_store
    ids = {k.expectation_suite_identifier.name: k for k in store.list_keys()}
    for name in set(results) - set(reuse):    # stored again as scrubbed: Data Docs draw from the store
        store.store_validation_results(results[name], ids[name], ExpectationSuiteIdentifier(name=name))
    if kept is not None:
        keep_results(kept, {name: reuse.get(name) or {
            "key": key, "batch": ids[name].batch_identifier, "run": ids[name].run_id.to_json_dict(),
            "result": store.serialize(results[name])} for name, key in keys.items() if key})
    if output_dir is not None:
        # a reused suite's pages stay as its run drew them; GX draws the others and the index (given
        # no identifier it draws every page: with none to draw, it is given one that names no page)
        drawn = [name for name in results if name not in reuse or not _page(output_dir, ids[name]).is_file()]
        clear_docs(output_dir, keep=set(results) - set(drawn))
        context.build_data_docs(site_names=[SITE], resource_identifiers=[
            *(ids[name] for name in drawn), *(ExpectationSuiteIdentifier(name=name) for name in drawn)]
            or [ExpectationSuiteIdentifier(name=NO_PAGE)])
    # GX keeps its last context, and with it every frame validated, in objects that refer to each
    # other: let the context go and collect them now, before the next layer builds its frames
    project_manager.set_project(None)
    del context, source
    gc.collect()
    if output_dir is None:
        return None

    failed = [failure(name, r) for name, result in results.items() for r in result.results if not r.success]
    return QualityResult(
        success=all(result.success for result in results.values()),
        evaluated=sum(len(result.results) for result in results.values()),
        failed=failed,
        data_docs=write_index(output_dir, results, failed),
    )


class FilteredOnce(PandasExecutionEngine):
    """GX's pandas engine, filtering a batch by a row condition once: GX filters it again for each
    metric of an expectation (seven each: 154 ``DataFrame.query`` calls over 800,000 rows for the lab
    suite's per-test expectations), and the same condition on the same frame gives the same rows.
    The lab suite at 10,000 subjects: 3.0-3.8 s -> 1.9-2.2 s, every result the same."""

    def _apply_row_condition_filter(self, data: pd.DataFrame, row_condition, domain_kwargs: dict) -> pd.DataFrame:
        filtered = self.__dict__.setdefault("_filtered", {})
        key = (id(data), repr(row_condition), domain_kwargs.get("condition_parser"))
        hit = filtered.get(key)
        if hit is None or hit[0] is not data:          # the frame itself kept: an id is reused once freed
            hit = filtered[key] = (data, super()._apply_row_condition_filter(data, row_condition, domain_kwargs))
        return hit[1]


def lab_suite(tests: Mapping[str, Mapping]) -> gx.ExpectationSuite:
    """Structure, identifiers and, per test, the standard unit and the plausible range."""
    expectations = [gxe.ExpectColumnToExist(column=c) for c in LAB_COLUMNS]
    expectations += [
        gxe.ExpectColumnValuesToNotBeNull(column="subjid"),
        gxe.ExpectColumnValuesToMatchRegex(column="subjid", regex=SUBJID),
        gxe.ExpectColumnValuesToBeInSet(column="lbtestcd", value_set=sorted(tests)),
        gxe.ExpectColumnValuesToMatchRegex(column="lbdtc", regex=ISO_DATETIME),
        gxe.ExpectColumnValuesToBeInSet(column="lbstat", value_set=list(LBSTAT)),
    ]
    for code, spec in tests.items():
        is_test, meta = Column("lbtestcd") == code, {"lbtestcd": code}
        expectations += [
            gxe.ExpectColumnValuesToBeInSet(column="lbstresu", value_set=[spec["unit"]], meta=meta,
                                            row_condition=is_test & (Column("lbstat") != "NOT DONE")),
            gxe.ExpectColumnValuesToBeBetween(column="lbstresn", min_value=spec["low"], max_value=spec["high"],
                                              meta=meta, row_condition=is_test),
        ]
    return gx.ExpectationSuite(name=LAB_SUITE, expectations=expectations)


def form_suite_name(form: str) -> str:
    return f"edc_{form}"


def form_suite(form: str, rules: Mapping) -> gx.ExpectationSuite:
    """Unique key, a well-formed subject, coded values in their set, numbers in their range."""
    expectations = [
        unique_key(list(rules["key"])),
        gxe.ExpectColumnValuesToMatchRegex(column=rules.get("subject", "SUBJID"), regex=SUBJID),
    ]
    expectations += [gxe.ExpectColumnValuesToBeInSet(column=col, value_set=["", *allowed])
                     for col, allowed in rules.get("values", {}).items()]
    for col, (low, high) in rules.get("ranges", {}).items():
        expectations += [
            gxe.ExpectColumnValuesToMatchRegex(column=text_column(col), regex=NUMBER_OR_EMPTY),
            gxe.ExpectColumnValuesToBeBetween(column=col, min_value=low, max_value=high),
        ]
    return gx.ExpectationSuite(name=form_suite_name(form), expectations=expectations)


def unique_key(key: list[str]):
    # GX rejects a compound-uniqueness expectation over fewer than two columns.
    if len(key) == 1:
        return gxe.ExpectColumnValuesToBeUnique(column=key[0])
    return gxe.ExpectCompoundColumnsToBeUnique(column_list=key)


def text_column(col: str) -> str:
    return f"{col} (text)"


def coded(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its text columns as categoricals, which hold the same values: GX filters the
    whole frame for each per-test expectation, and taking rows of a categorical moves small integer
    codes where Arrow strings are copied (at 800,000 rows the lab suite ran in half the time)."""
    text = [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c]) and frame[c].dtype != object]
    return frame.astype(dict.fromkeys(text, "category"))


def numeric_copy(frame: pd.DataFrame, rules: Mapping) -> pd.DataFrame:
    """The form with each range column as numbers (NaN for '' and for text that is not a number);
    the text is kept beside it so that text that is not a number is reported, not skipped."""
    out = frame.copy()
    for col in rules.get("ranges", {}):
        if col in out.columns:
            out[text_column(col)] = out[col]
            out[col] = pd.to_numeric(out[col].where(out[col] != ""), errors="coerce").astype("float64")
    return out


def quiet_context(output_dir: Path | None):
    """An in-memory context, without analytics or progress bars, whose one Data Docs site is
    output_dir (none without one)."""
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(output_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        data_docs_sites={SITE: site} if output_dir is not None else {},
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def validate(context, source, frame: pd.DataFrame, suite: gx.ExpectationSuite, run_id: RunIdentifier):
    """Run one suite over the whole frame; the result is kept in the context's store for Data Docs."""
    batch = source.add_dataframe_asset(suite.name).add_batch_definition_whole_dataframe("all")
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch, suite=context.suites.add(suite)))
    return definition.run(batch_parameters={"dataframe": frame}, result_format=RESULT_FORMAT, run_id=run_id)


def reused(context, suite: gx.ExpectationSuite, kept: dict):
    """A kept result put in the context's store under the run that made it, beside its suite: the
    index lists it, and its pages are those that run wrote."""
    store = context.validation_results_store
    result = store.deserialize(kept["result"])
    run_id = RunIdentifier(**kept["run"])
    result.meta["run_id"], result.meta["validation_time"] = run_id, run_id.run_time
    suite_id = ExpectationSuiteIdentifier(name=suite.name)
    context.suites.add(suite)
    store.store_validation_results(result, ValidationResultIdentifier(suite_id, run_id, kept["batch"]), suite_id)
    return result


def _page(output_dir: Path, result_id: ValidationResultIdentifier) -> Path:
    """Where Data Docs put a validation result's page (GX's layout: suite, run name, run time, batch)."""
    *folders, batch = result_id.to_tuple()
    return output_dir.joinpath("validations", *folders, f"{batch}.html")


def clear_docs(output_dir: Path, keep: set[str] = frozenset()) -> None:
    """Remove an earlier run's pages but those of the suites in ``keep`` (reused tonight): the index
    only lists this run, stale pages would linger."""
    for name in DOCS_ENTRIES:
        path = output_dir / name
        if name in ("validations", "expectations") and path.is_dir():
            for entry in path.iterdir():
                if entry.name.removesuffix(".html") not in keep:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def withhold_personal(result) -> None:
    """Replace, in a suite's result, each offending text value with the form of personal data by the
    words aclf.disclosure uses: the result is kept, and its Data Docs pages show the examples."""
    def scrub(value):
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        if isinstance(value, str) and is_person_like(value):
            return PERSON_LIKE
        return value

    for outcome in (r.result for r in result.results if r.result):
        if outcome.get("partial_unexpected_list"):
            outcome["partial_unexpected_list"] = [scrub(v) for v in outcome["partial_unexpected_list"]]
        for count in outcome.get("partial_unexpected_counts") or []:
            if "value" in count:
                count["value"] = scrub(count["value"])


def failure(suite: str, result) -> dict:
    config = result.expectation_config
    kwargs = config.kwargs
    column = kwargs.get("column") or ", ".join(kwargs.get("column_list") or []) or None
    scope = f"lbtestcd {config.meta['lbtestcd']}: " if "lbtestcd" in (config.meta or {}) else ""
    return {"suite": suite, "expectation": config.type, "column": column, "detail": scope + detail(result)}


def detail(result) -> str:
    """One sentence: what went wrong, how often, and a few of the offending values."""
    error = exception_message(result.exception_info or {})
    if error:
        return f"could not be evaluated: {error}"
    if result.expectation_config.type == "expect_column_to_exist":
        return "the column is missing"
    outcome = result.result or {}
    if "unexpected_count" not in outcome:
        return f"failed; observed {outcome.get('observed_value')!r}"
    values = list({repr(v): v for v in outcome.get("partial_unexpected_list") or []}.values())
    shown = ", ".join(_shown(v) for v in values[:SHOWN_VALUES])
    return (f"{outcome['unexpected_count']} of {outcome.get('element_count')} rows unexpected"
            + (f", e.g. {shown}" if shown else ""))


def _shown(value) -> str:
    """An offending value as a finding may show it: a number as it is (a numeric column holds only
    values the pipeline computed), a compound key column by column, any text as aclf.disclosure allows."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_shown(v)}" for k, v in value.items()) + "}"
    return quote(value)


def exception_message(info: dict) -> str | None:
    # Either one exception record or, when a metric raised, records keyed by metric id.
    records = [info] if "raised_exception" in info else list(info.values())
    messages = [r.get("exception_message") for r in records if isinstance(r, dict) and r.get("raised_exception")]
    return messages[0] if messages else None
