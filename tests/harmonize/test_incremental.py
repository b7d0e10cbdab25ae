"""An incremental night (one site sent a new snapshot) rebuilds that site's harmonized rows only,
replaces them in the store by source (the other sites' rows are not rewritten), keeps the package
files of the datasets it did not change, builds (and hashes) the LB, ADLB and ADSCORE records of that site's
subjects only, runs the lab expectation suite and no form's, and gives exactly what a full recomputation on the same
data gives: the harmonized table, its schema failures, every finding and every output file."""
import json
import shutil
from dataclasses import replace

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import aclf.inputs
import cdisc.package
import cdisc.publish
import cdisc.splice
from cdisc.adam import build as adam_build
from cdisc.sdtm import lb as lb_module, trace as trace_module
from cdisc.row_hash import row_hashes
from cdisc.sdtm.build import BUILDERS
from aclf.harmonized_lab import load_harmonized_lab, load_schema_failures
from aclf.mirror import mirror_folder
from aclf.settings import Settings
from aclf.store import lab_harmonized, lab_harmonized_source, lab_harmonized_version, make_engine, sdtm_trace_key
from aclf.synth import generate
from bench.compare_outputs import compare
from pipelines.cli import deliver_night
from pipelines.nightly import run_nightly
from support import store_url


def _ids_by_source(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.select(lab_harmonized.c.id, lab_harmonized.c.source).order_by(lab_harmonized.c.id), conn)


def _night(settings: Settings) -> None:
    assert run_nightly(settings, instance=dg.DagsterInstance.ephemeral(), log_level="ERROR").success


def _deliver_only(root, settings: Settings, source: str, night: str) -> None:
    staged = root / f"{source}_only"
    shutil.copytree(root / "incoming" / source, staged / source)
    assert deliver_night(staged, settings.landing, night)


def _inodes(output) -> dict[str, int]:
    sdtm = output / "blinded" / "m5" / "datasets" / "nct05985863" / "tabulations" / "sdtm"
    return {p.name: p.stat().st_ino for p in sdtm.iterdir()}


def _handoff_inodes(output) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in (output / "blinded" / "handoff" / "sdtm").iterdir()}


def _trace(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.text("select area, dataset, record, usubjid, transfer_id, row_number from sdtm_trace "
                                   "order by area, dataset, record"), conn)


def _site01_transfers(engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("select id from transfer where source = 'site01' and status = 'loaded'"))
                    .scalars())


def _token(engine) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.select(lab_harmonized_version.c.token)).scalar()


def _suite_runs(settings) -> dict[str, dict]:
    """Each expectation suite's kept result's run: a suite reused keeps the run that made it (the
    suites run in the nightly run's warm worker, where this process's patches do not reach)."""
    folder = mirror_folder(settings.archive) / "quality"
    return {p.stem: json.loads(p.read_text(encoding="utf-8"))["run"] for p in folder.glob("*.json")}


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """Night 1 in full, then night 2 in which only the IWRS sent a list, then one in which only
    site01 sent a snapshot; then the same data recomputed in full (every source's fingerprint
    forgotten, no package or hand-off of an earlier night) into a second output folder."""
    root = tmp_path_factory.mktemp("incremental")
    summary = generate(root / "incoming", subjects=60, seed=13, nights=2, in_flight=())
    first, second = (n.replace("-", "") for n in summary.nights)
    with pytest.MonkeyPatch.context() as patch, store_url(root) as url:
        patch.setattr(aclf.inputs, "code_version", lambda: "1.0+gabc")    # a clean checkout
        built, build_dm = [], BUILDERS["DM"]
        patch.setitem(BUILDERS, "DM", lambda ctx: built.append(1) or build_dm(ctx))
        traced, insert = [], trace_module.bulk_insert     # the datasets whose trace rows are written
        patch.setattr(trace_module, "bulk_insert", lambda conn, table, frame, *a, **k: traced.append(
            set(frame["dataset"])) or insert(conn, table, frame, *a, **k))
        lb_built, records = [], lb_module._records          # the subjects whose LB is built
        patch.setattr(lb_module, "_records", lambda ctx, h: lb_built.append(set(h["subjid"])) or records(ctx, h))
        derived, build_adlb = [], adam_build.build_adlb       # the sites of the subjects whose ADLB is derived
        patch.setattr(adam_build, "build_adlb", lambda lb, adsl, *rest: derived.append(set(adsl["SITEID"])) or
                      build_adlb(lb, adsl, *rest))
        copied, copy = {}, cdisc.splice.Reuse.copy         # the rows copied from the files in force, by file
        patch.setattr(cdisc.splice.Reuse, "copy", lambda self, out, start, stop: copied.update(
            {self.source.name: copied.get(self.source.name, 0) + stop - start}) or copy(self, out, start, stop))
        carried, known_rows = {}, cdisc.publish.known_rows   # hashes carried over by a merge: used, and right?

        def spied_known_rows(datasets, spec, rows, given):
            known = known_rows(datasets, spec, rows, given)
            carried.update({name: (np.array_equal(known[name].hashes, hashes),
                                   np.array_equal(known[name].hashes, row_hashes(datasets[name])))
                            for name, hashes in given.items()})
            return known

        patch.setattr(cdisc.publish, "known_rows", spied_known_rows)
        hashed, row_hashes_of = [], cdisc.package.row_hashes   # the frames hashed whole: their columns
        patch.setattr(cdisc.package, "row_hashes", lambda frame: hashed.append(tuple(frame.columns)) or
                      row_hashes_of(frame))
        settings = Settings.resolve(landing=root / "landing", output=root / "output", archive=root / "archive",
                                    database_url=url)
        engine = make_engine(url)
        deliver_night(root / "incoming", settings.landing, first)
        _night(settings)
        first_night = {"ids": _ids_by_source(engine), "token": _token(engine)}
        _deliver_only(root, settings, "iwrs", second)
        _night(settings)
        iwrs_night = {"ids": _ids_by_source(engine), "token": _token(engine), "files": _inodes(settings.output),
                      "handoff": _handoff_inodes(settings.output), "dm_built": len(built)}
        _deliver_only(root, settings, "site01", second)
        suites = _suite_runs(settings)
        copied.clear()
        carried.clear()
        hashed.clear()
        _night(settings)
        incremental = {"ids": _ids_by_source(engine), "token": _token(engine), "lab": load_harmonized_lab(engine),
                       "failures": load_schema_failures(engine), "files": _inodes(settings.output),
                       "handoff": _handoff_inodes(settings.output),
                       "trace": _trace(engine), "dm_built": len(built), "adlb_sites": derived[-1],
                       "trace_written": traced[-1], "lb_built": lb_built[-1], "copied": dict(copied), "carried": dict(carried),
                       "hashed": list(hashed),
                       "suites_run": sorted(k for k, run in _suite_runs(settings).items() if suites.get(k) != run)}
        with engine.begin() as conn:
            conn.execute(lab_harmonized_source.delete())
            conn.execute(sdtm_trace_key.delete())
        shutil.rmtree(mirror_folder(settings.archive) / "quality")        # no suite result kept either
        # nor the harmonized table's copy: with no new transfer the table's inputs are those it was
        # saved under, so harmonization would keep tonight's table whole and compare it with itself
        for copy in mirror_folder(settings.archive).glob("lab_harmonized_*.parquet"):
            copy.unlink()
        full = replace(settings, output=root / "output_full")
        _night(full)
        yield {"first": first_night, "iwrs_night": iwrs_night, "incremental": incremental,
               "full_token": _token(engine),
               "full_lab": load_harmonized_lab(engine), "full_failures": load_schema_failures(engine),
               "outputs": (settings.output, full.output), "full_trace": _trace(engine),
               "site01_transfers": _site01_transfers(engine)}


def test_only_the_changed_site_is_rewritten_in_the_store(nights):
    before, after = nights["iwrs_night"]["ids"], nights["incremental"]["ids"]
    others = before[before["source"] != "site01"]
    assert len(others) > 0 and set(before["source"]) >= {"site01", "site02"}
    assert set(others["id"]) <= set(after["id"])                       # the other sites' rows kept as they were
    site01 = after[after["source"] == "site01"]
    assert len(site01) > 0 and site01["id"].min() > before["id"].max()   # site01's rows written anew


def test_only_the_datasets_the_site_changed_are_written_again(nights):
    """A site's labs change LB (and the data cut in TS); the domains from the forms keep their files."""
    before, after = nights["iwrs_night"]["files"], nights["incremental"]["files"]
    assert after["lb.xpt"] != before["lb.xpt"] and after["define.xml"] != before["define.xml"]
    for name in ("dm.xpt", "dm.json", "ae.xpt", "mh.xpt", "ta.xpt"):
        assert after[name] == before[name], name


def test_the_domains_from_the_forms_are_taken_from_the_hand_off_not_built(nights):
    assert nights["iwrs_night"]["dm_built"] == 2                 # the first night, and the IWRS list's
    assert nights["incremental"]["dm_built"] == 2                # not again for a site's labs


def test_the_hand_off_keeps_the_files_of_the_domains_it_gave(nights):
    """The domains taken from the hand-off keep its files in the new one; LB is written again."""
    before, after = nights["iwrs_night"]["handoff"], nights["incremental"]["handoff"]
    assert set(after) == set(before)
    for name in ("DM.parquet", "AE.parquet", "MH.parquet", "SV.parquet"):
        assert after[name] == before[name], name
    assert after["LB.parquet"] != before["LB.parquet"]


def test_the_records_of_the_other_sites_subjects_are_not_built_again(nights):
    assert {subjid[:2] for subjid in nights["incremental"]["lb_built"]} == {"01"}
    assert nights["incremental"]["adlb_sites"] == {"01"}


def test_the_site_subjects_whose_values_did_not_change_keep_their_records_with_tonights_lineage(nights):
    """Site01's new snapshot restates every record from a new transfer; LB builds the records of
    the subjects whose harmonized values changed only, and the others' records, taken from the
    night before, trace to tonight's transfer (the full recomputation's trace, the last test)."""
    built = nights["incremental"]["lb_built"]
    trace = nights["incremental"]["trace"]
    lb = trace[(trace["area"] == "blinded") & (trace["dataset"] == "LB")]
    site01 = lb[lb["usubjid"].str.split("-").str[1] == "01"]
    taken = site01[~site01["usubjid"].str.split("-").str[2].isin({s[-3:] for s in built})]
    assert len(built) > 0 and len(taken) > 0
    assert set(taken["transfer_id"]) == {max(nights["site01_transfers"])}


def test_the_subject_level_files_copy_the_rows_that_did_not_change(nights):
    """LB and ADLB are written again (ADSCORE, whose rows did not change here, keeps its files), but
    the rows of the other sites' subjects (and of site01's whose rows are the same) are copied from
    the files in force; the files equal those of a full recomputation (the last test)."""
    copied = nights["incremental"]["copied"]
    assert set(copied) == {f"{name}.{kind}" for name in ("lb", "adlb") for kind in ("xpt", "json")}
    lb = pd.read_parquet(nights["outputs"][0] / "blinded" / "handoff" / "sdtm" / "LB.parquet", columns=["USUBJID"])
    other_sites = int((lb["USUBJID"].str.split("-").str[1] != "01").sum())       # NCT05985863-<site>-<nnn>
    assert 0 < other_sites <= copied["lb.xpt"] < len(lb) and copied["lb.json"] == copied["lb.xpt"]


def test_the_kept_records_row_hashes_are_carried_over_and_are_those_of_a_full_hashing(nights):
    """LB's, ADLB's and ADSCORE's kept records keep the hashes the night before made of them (kept
    beside the hand-off and ADaM's kept datasets): used by the checks and the writer, and equal,
    row for row, to hashing every record again."""
    assert nights["incremental"]["carried"] == {name: (True, True) for name in ("LB", "ADLB", "ADSCORE")}


def test_no_dataset_merged_or_taken_from_the_hand_off_is_hashed_whole(nights):
    """The domains taken from the hand-off have their row hashes there too: the writer's digests
    hash none of them, nor LB, ADLB or ADSCORE (the datasets ADaM builds whole are hashed)."""
    output = nights["outputs"][0] / "blinded"
    columns = {name: tuple(pd.read_parquet(output / "handoff" / "sdtm" / f"{name}.parquet").columns)
               for name in ("LB", "DM", "AE", "SV")}
    columns.update({name: tuple(pd.read_parquet(output / "adam_by_subject" / f"{name}.parquet").columns)
                    for name in ("ADLB", "ADSCORE")})
    hashed = nights["incremental"]["hashed"]
    assert hashed and not {name for name, names in columns.items() if names in hashed}


def test_the_stored_trace_of_a_dataset_taken_from_the_hand_off_is_not_written_again(nights):
    written = nights["incremental"]["trace_written"]
    assert "LB" in written and not written & {"DM", "AE", "MH", "SV"}


def test_only_the_lab_expectation_suite_runs(nights):
    """The forms are as they were: their suites' results are reused."""
    assert nights["incremental"]["suites_run"] == ["harmonized_lab"]


def test_a_night_with_no_new_lab_transfer_keeps_the_table_as_it_is(nights):
    """The IWRS list does not enter the harmonized table: nothing rebuilt, the same version."""
    assert nights["iwrs_night"]["token"] == nights["first"]["token"]
    assert nights["iwrs_night"]["ids"].equals(nights["first"]["ids"])


def test_an_incremental_night_equals_a_full_recomputation(nights):
    incremental = nights["incremental"]
    assert nights["full_token"] != incremental["token"]       # the recomputation built its own table
    assert incremental["lab"].equals(nights["full_lab"])
    assert incremental["failures"].equals(nights["full_failures"])
    assert compare(*nights["outputs"]) == []
    pd.testing.assert_frame_equal(incremental["trace"], nights["full_trace"])
