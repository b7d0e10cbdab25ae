"""Each layer's asset function invoked directly, with a built context and a real resource."""
from __future__ import annotations

import warnings
from collections.abc import Iterator

import dagster as dg
import pandas as pd
import pytest

from aclf.config import load_study
from aclf.settings import Settings
from assets.harmonized import harmonized_lab
from assets.ingestion import staged_source_asset
from assets.resources import AclfResource
from support import FIXTURES, EDC_FILES, asset_named, land, land_edc, read_table


@pytest.fixture
def aclf(tmp_path, paths, database_url) -> AclfResource:
    return AclfResource.from_settings(Settings.resolve(landing=paths.landing, output=tmp_path / "output",
                                                       archive=paths.archive, database_url=database_url))


def invoke(asset, aclf, **context):
    """``asset`` invoked directly in a built context, closed before returning (a generator's events
    are collected inside). Left to the garbage collector, the context's ``__del__`` closes its
    ephemeral Dagster instance, which resets a context variable in the middle of a collection: on
    CPython 3.11 that can free the context's variables under a ContextVar.set that the collection
    interrupted (python/cpython#148891), and the suite crashed later with a segmentation fault."""
    with dg.build_asset_context(resources={"aclf": aclf}, **context) as built:
        result = asset(built)
        return list(result) if isinstance(result, Iterator) else result


def _ingest(aclf, source):
    return invoke(asset_named("staged_source"), aclf, partition_key=source)


def test_staged_source_asset_ingests_its_partition(paths, aclf):
    land(paths, "site01", "SITE01_20250601.csv", FIXTURES / "SITE01_20250601.csv")
    result = _ingest(aclf, "site01")
    assert result.metadata["snapshot_in_force"] == "SITE01_20250601.csv"
    assert result.check_results[0].passed


def test_the_ingestion_asset_is_defined_without_a_preview_warning():
    """A partitioned check is a Dagster preview feature: a night's log does not repeat its warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        staged_source_asset(load_study())
    assert not [w for w in caught if issubclass(w.category, dg.PreviewWarning)]


def test_harmonized_lab_asset_stores_the_table_and_its_schema_failures_once(paths, aclf, engine):
    land(paths, "site01", "SITE01_20250601.csv", FIXTURES / "SITE01_20250601.csv")
    land_edc(paths, "EDC_20250601")
    _ingest(aclf, "site01")
    _ingest(aclf, "edc")
    result = invoke(harmonized_lab, aclf)
    stored = read_table(engine, "lab_harmonized")
    assert result.metadata["records"].value == len(stored) > 0
    failures = read_table(engine, "lab_harmonized_failure")
    assert (failures["row_index"].dropna() < len(stored)).all()


def test_a_night_without_a_new_transfer_keeps_the_harmonized_table(paths, aclf, engine, monkeypatch):
    """Same transfers in force, configuration and code: nothing is rebuilt and the asset reports the
    same table and schema check; a new transfer rebuilds it."""
    import aclf.inputs as module
    monkeypatch.setattr(module, "code_version", lambda: "1.0+gabc")     # a clean checkout
    land(paths, "site01", "SITE01_20250601.csv", FIXTURES / "SITE01_20250601.csv")
    land_edc(paths, "EDC_20250601")
    _ingest(aclf, "site01")
    _ingest(aclf, "edc")
    first = invoke(harmonized_lab, aclf)
    tokens = read_table(engine, "lab_harmonized_version")["token"].tolist()
    again = invoke(harmonized_lab, aclf)
    assert first.metadata["rebuilt"].value and not again.metadata["rebuilt"].value
    assert read_table(engine, "lab_harmonized_version")["token"].tolist() == tokens
    assert again.metadata["records"] == first.metadata["records"]
    assert [c.metadata for c in again.check_results] == [c.metadata for c in first.check_results]
    land(paths, "site02", "SITE02_20250601.csv", FIXTURES / "SITE02_20250601.csv")
    _ingest(aclf, "site02")
    assert invoke(harmonized_lab, aclf).metadata["rebuilt"].value


def test_findings_asset_reuses_the_stored_schema_failures(paths, aclf, engine, monkeypatch):
    """The harmonized table's pandera schema runs once a night, in the harmonized asset."""
    import validation.evaluate

    land(paths, "site01", "SITE01_20250601.csv", FIXTURES / "SITE01_20250601.csv")
    land_edc(paths, "EDC_20250601")
    _ingest(aclf, "site01")
    _ingest(aclf, "edc")
    invoke(harmonized_lab, aclf)
    schemas = []
    real = validation.evaluate.harmonized_lab_schema
    monkeypatch.setattr(validation.evaluate, "harmonized_lab_schema", lambda *a: schemas.append(1) or real(*a))
    run = dg.materialize([asset_named("findings")], selection=["findings"], resources={"aclf": aclf})
    assert schemas == []
    [event] = run.asset_materializations_for_node("validation")
    assert event.asset_key == dg.AssetKey("findings")               # the suites, not selected, did not run
    assert event.metadata["open"].value > 0 and (aclf.output / "findings" / "findings.csv").exists()
    assert not (aclf.output / "quality").exists()


def test_a_failure_of_the_findings_leaves_the_suites_result(paths, aclf, monkeypatch):
    """Findings and quality_docs are one step: when the rules fail, the suites' result still lands
    (as it did when they were two steps), and the step fails."""
    import assets.validation

    land(paths, "site01", "SITE01_20250601.csv", FIXTURES / "SITE01_20250601.csv")
    land_edc(paths, "EDC_20250601")
    for source in ("site01", "edc"):
        _ingest(aclf, source)
    invoke(harmonized_lab, aclf)
    monkeypatch.setattr(assets.validation, "track_findings", lambda *a: 1 / 0)
    run = dg.materialize([asset_named("findings")], resources={"aclf": aclf}, raise_on_error=False)
    assert not run.success
    assert [e.asset_key for e in run.asset_materializations_for_node("validation")] == [dg.AssetKey("quality_docs")]
    assert (aclf.output / "quality" / "index.html").is_file()


def test_sdtm_asset_of_the_blinded_area_writes_its_package_and_hand_off(paths, aclf):
    land(paths, "site01", "SITE01_20250601.csv", FIXTURES / "SITE01_20250601.csv")
    land_edc(paths, "EDC_20250601")
    for source in ("site01", "edc"):
        _ingest(aclf, source)
    invoke(harmonized_lab, aclf)
    sdtm = asset_named("sdtm_blinded")
    events = invoke(sdtm, aclf)
    checks = [e for e in events if isinstance(e, dg.AssetCheckResult)]
    assert {c.check_name for c in checks} == {"spec", "define_xml_valid", "screen_failure_reasons_mapped"}
    assert all(c.passed for c in checks if c.check_name != "screen_failure_reasons_mapped")
    [ie] = [c for c in checks if c.check_name == "screen_failure_reasons_mapped"]   # 'TBIL below 5 mg/dL' is not mapped
    assert not ie.passed and ie.severity == dg.AssetCheckSeverity.WARN and ie.metadata["subjids"].value == "01-008"
    folders = aclf.folders(sdtm_area())
    assert (folders.sdtm / "define.xml").exists() and (folders.handoff / "sdtm" / "DM.parquet").exists()
    dm = pd.read_parquet(folders.handoff / "sdtm" / "DM.parquet")
    assert set(dm["USUBJID"]) == {"NCT05985863-" + s for s in ("01-007", "01-008")} - {"NCT05985863-01-008"} \
        or len(dm) >= 1
    adam = asset_named("adam_blinded")
    adam_events = invoke(adam, aclf)
    assert any(isinstance(e, dg.MaterializeResult) and e.asset_key == dg.AssetKey(["adam", "adsl"])
               for e in adam_events)


def sdtm_area():
    from cdisc.area import BLINDED

    return BLINDED


def test_suites_started_ahead_land_in_the_quality_step_even_if_their_worker_is_lost(paths, aclf, monkeypatch):
    """The findings alone, in a run tagged AHEAD_TAG, start the suites in the warm worker; the
    quality_docs step of a later run collects them, and runs them again if the worker was lost."""
    import assets.suites
    from aclf import warm_worker

    land(paths, "site01", "SITE01_20250601.csv", FIXTURES / "SITE01_20250601.csv")
    land_edc(paths, "EDC_20250601")
    for source in ("site01", "edc"):
        _ingest(aclf, source)
    invoke(harmonized_lab, aclf)
    validation, started = asset_named("findings"), []
    real = assets.suites.start_quality

    def start_then_lose_the_worker(resource):
        finish = real(resource)
        started.append(1)
        if len(started) == 1:       # sent to the worker, which is still importing GX (3 s): lost
            process.kill()
        return finish

    monkeypatch.setattr(assets.suites, "start_quality", start_then_lose_the_worker)
    with warm_worker.running():
        [process] = warm_worker._pool._processes.values()
        assert dg.materialize([validation], selection=["findings"], resources={"aclf": aclf},
                              tags={assets.suites.AHEAD_TAG: "true"}).success
        assert len(assets.suites._ahead) == 1 and not (aclf.output / "quality" / "result.json").exists()
        run = dg.materialize([validation], selection=["quality_docs"], resources={"aclf": aclf})
    assert run.success and assets.suites._ahead == {} and len(started) == 2
    [event] = run.asset_materializations_for_node("validation")
    assert event.asset_key == dg.AssetKey("quality_docs") and event.metadata["evaluated"].value > 50
    assert (aclf.output / "quality" / "index.html").is_file()


def test_harmonization_validates_the_rebuilt_table_ahead_and_the_suites_reuse_what_it_kept(paths, aclf, monkeypatch):
    """With a warm worker, harmonization runs the suites on the rebuilt table's copy before the
    store saves it, keeping their results and drawing nothing; the suites' run, once the table is
    in force, reuses them (the same frames) and draws the Data Docs."""
    import json

    import assets.suites
    from aclf import warm_worker
    from aclf.harmonized_lab import harmonized_lab_file

    land(paths, "site01", "SITE01_20250601.csv", FIXTURES / "SITE01_20250601.csv")
    land_edc(paths, "EDC_20250601")
    for source in ("site01", "edc"):
        _ingest(aclf, source)
    real, sent = assets.suites._submit, []
    monkeypatch.setattr(assets.suites, "_submit", lambda resource, lab, folder: sent.append((lab, folder))
                        or real(resource, lab, folder))
    kept = aclf.mirror() / "quality" / "harmonized_lab.json"
    monkeypatch.setattr(assets.suites, "built_by", lambda study_dir: "code-and-configuration")  # as in a clean checkout
    with warm_worker.running():
        assert dg.materialize([harmonized_lab], resources={"aclf": aclf}).success
        warm_worker.submit("math", "sqrt", 4.0).result()        # the worker is done with what came before
        assert not (aclf.output / "quality").exists()            # nothing drawn before the table is in force
        ahead_run = json.loads(kept.read_text(encoding="utf-8"))["run"]
        validation = asset_named("findings")
        run = dg.materialize([validation], resources={"aclf": aclf})
    [(ahead_lab, drawn_in), (lab, folder)] = sent
    assert drawn_in is None and folder == aclf.output / "quality"
    assert ahead_lab == lab == harmonized_lab_file(aclf.engine(), aclf.mirror())
    assert json.loads(kept.read_text(encoding="utf-8"))["run"] == ahead_run      # reused, not run again
    assert run.success
    [event] = [e for e in run.asset_materializations_for_node("validation") if e.asset_key == dg.AssetKey("quality_docs")]
    assert event.metadata["evaluated"].value > 50 and (aclf.output / "quality" / "index.html").is_file()


def test_a_failed_save_after_the_suites_ran_ahead_leaves_the_table_and_the_docs_in_force(paths, aclf, monkeypatch):
    """The copy of a table that harmonization could not save never replaces the copy in force, and
    the suites run ahead on it draw nothing."""
    import aclf.harmonized_lab as module
    import assets.suites
    from aclf import warm_worker

    land(paths, "site01", "SITE01_20250601.csv", FIXTURES / "SITE01_20250601.csv")
    land_edc(paths, "EDC_20250601")
    for source in ("site01", "edc"):
        _ingest(aclf, source)
    assert dg.materialize([harmonized_lab], resources={"aclf": aclf}).success
    in_force, real_submit = module.harmonized_lab_file(aclf.engine(), aclf.mirror()), assets.suites._submit
    monkeypatch.setattr(module, "inputs_fingerprint", lambda engine, study_dir: "changed")   # rebuilt,
    monkeypatch.setattr(module, "source_fingerprints", lambda engine, study, study_dir: None)  # every source
    monkeypatch.setattr(module, "write_harmonized_lab", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    monkeypatch.setattr(assets.suites, "built_by", lambda study_dir: "code-and-configuration")
    ran_ahead = []
    monkeypatch.setattr(assets.suites, "_submit", lambda *a: ran_ahead.append(a[1]) or real_submit(*a))
    with warm_worker.running():
        assert not dg.materialize([harmonized_lab], resources={"aclf": aclf}, raise_on_error=False).success
        warm_worker.submit("math", "sqrt", 4.0).result()
    assert module.harmonized_lab_file(aclf.engine(), aclf.mirror()) == in_force and in_force.exists()
    assert len(ran_ahead) == 1 and ran_ahead[0] != in_force and (aclf.mirror() / "quality" / "harmonized_lab.json").exists()
    assert not (aclf.output / "quality").exists()
