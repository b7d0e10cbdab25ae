"""Each layer's asset function invoked directly, with a built context and a real resource."""
from __future__ import annotations

import warnings

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


def _ingest(aclf, source):
    staged = asset_named("staged_source")
    return staged(dg.build_asset_context(partition_key=source, resources={"aclf": aclf}))


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
    result = harmonized_lab(dg.build_asset_context(resources={"aclf": aclf}))
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
    first = harmonized_lab(dg.build_asset_context(resources={"aclf": aclf}))
    tokens = read_table(engine, "lab_harmonized_version")["token"].tolist()
    again = harmonized_lab(dg.build_asset_context(resources={"aclf": aclf}))
    assert first.metadata["rebuilt"].value and not again.metadata["rebuilt"].value
    assert read_table(engine, "lab_harmonized_version")["token"].tolist() == tokens
    assert again.metadata["records"] == first.metadata["records"]
    assert [c.metadata for c in again.check_results] == [c.metadata for c in first.check_results]
    land(paths, "site02", "SITE02_20250601.csv", FIXTURES / "SITE02_20250601.csv")
    _ingest(aclf, "site02")
    assert harmonized_lab(dg.build_asset_context(resources={"aclf": aclf})).metadata["rebuilt"].value


def test_findings_asset_reuses_the_stored_schema_failures(paths, aclf, engine, monkeypatch):
    """The harmonized table's pandera schema runs once a night, in the harmonized asset."""
    import validation.evaluate

    land(paths, "site01", "SITE01_20250601.csv", FIXTURES / "SITE01_20250601.csv")
    land_edc(paths, "EDC_20250601")
    _ingest(aclf, "site01")
    _ingest(aclf, "edc")
    harmonized_lab(dg.build_asset_context(resources={"aclf": aclf}))
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
    harmonized_lab(dg.build_asset_context(resources={"aclf": aclf}))
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
    harmonized_lab(dg.build_asset_context(resources={"aclf": aclf}))
    sdtm = asset_named("sdtm_blinded")
    events = list(sdtm(dg.build_asset_context(resources={"aclf": aclf})))
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
    adam_events = list(adam(dg.build_asset_context(resources={"aclf": aclf})))
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
    harmonized_lab(dg.build_asset_context(resources={"aclf": aclf}))
    validation, started = asset_named("findings"), []
    real = assets.suites.start_quality

    def start_then_lose_the_worker(resource, lab_file=None):
        finish = real(resource, lab_file)
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


def test_harmonization_tagged_ahead_starts_the_suites_on_its_copy_before_the_store_saves(paths, aclf, monkeypatch):
    """In a run tagged AHEAD_TAG, harmonization starts the suites on the rebuilt table's Parquet copy
    before the store holds it; the findings' tagged run does not start them again, and the
    quality_docs step collects them: the copy they read is the table in force."""
    import assets.suites
    from aclf import warm_worker
    from aclf.harmonized_lab import harmonized_lab_file, load_harmonized_lab

    land(paths, "site01", "SITE01_20250601.csv", FIXTURES / "SITE01_20250601.csv")
    land_edc(paths, "EDC_20250601")
    for source in ("site01", "edc"):
        _ingest(aclf, source)
    real, copies = assets.suites.start_quality, []

    def start(resource, lab_file=None):
        copies.append((lab_file, harmonized_lab_file(resource.engine(), resource.mirror()) if lab_file else None))
        return real(resource, lab_file)

    monkeypatch.setattr(assets.suites, "start_quality", start)
    tags = {assets.suites.AHEAD_TAG: "true"}
    with warm_worker.running():
        assert dg.materialize([harmonized_lab], resources={"aclf": aclf}, tags=tags).success
        assert len(assets.suites._ahead) == 1
        validation = asset_named("findings")
        assert dg.materialize([validation], selection=["findings"], resources={"aclf": aclf}, tags=tags).success
        run = dg.materialize([validation], selection=["quality_docs"], resources={"aclf": aclf})
    [(lab_file, in_force_then)] = copies
    assert lab_file is not None and lab_file.exists() and in_force_then != lab_file   # not saved yet
    assert harmonized_lab_file(aclf.engine(), aclf.mirror()) == lab_file
    pd.testing.assert_frame_equal(pd.read_parquet(lab_file), load_harmonized_lab(aclf.engine()))
    assert run.success and assets.suites._ahead == {}
    [event] = run.asset_materializations_for_node("validation")
    assert event.metadata["evaluated"].value > 50 and not event.metadata["kept"].value
