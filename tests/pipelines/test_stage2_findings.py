"""Findings and counts about stage-2 rows (the week-4/5 infusions, the stage-2 randomization) would
tell a blinded reader the stage-1 arm: they stay out of the blinded listings, run report, metadata
and Data Docs, and reach the unblinded area's findings folder, with the full counts, once authorized."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace

import dagster as dg
import openpyxl
import pandas as pd
import pyreadstat
import pytest

from aclf.registry import TransferOutcome
from cdisc.area import AreaFolders
from pipelines.nightly import run_nightly
from support import generated_night, write_manifest

NEXT = "20251231"   # a later night than the generated one (2025-06-30): the planted transfers supersede it
STAGE1 = "- {stage: 1, authorized_by: DMC chair, authorized_on: 2025-01-15, reference: DMC-001}\n"


def _plant(settings) -> dict[str, str]:
    """A second EDC and IWRS transfer with problems on stage-2 rows only; returns what was planted."""
    edc = next((settings.landing / "edc").glob("EDC_*"))
    night = edc.name.removeprefix("EDC_")
    new_edc = settings.landing / "edc" / f"EDC_{NEXT}"
    shutil.copytree(edc, new_edc)
    (new_edc / "MANIFEST.sha256").unlink(missing_ok=True)
    infusion = pd.read_csv(new_edc / "infusion.csv", dtype=str, keep_default_na=False)
    week4 = infusion.index[(infusion["VISIT"] == "WEEK4") & (infusion["DONE"] == "Y")]
    week5 = infusion.index[infusion["VISIT"] == "WEEK5"]
    planted = {"volume": infusion.at[week4[0], "SUBJID"], "duplicate": infusion.at[week5[0], "SUBJID"]}
    infusion.at[week4[0], "VOLUME_ML"] = "5000"
    infusion.at[week4[2], "VISIT"] = "Week4"          # a stage-2 visit not spelled as configured
    planted["respelled"] = (infusion.at[week4[2], "SUBJID"], infusion.at[week4[2], "INF_START"])
    orphan = infusion.loc[[week4[1]]].assign(SUBJID="05-999")               # an unknown subject, stage 2 only
    infusion = pd.concat([infusion, infusion.loc[[week5[0]]], orphan], ignore_index=True)
    infusion.to_csv(new_edc / "infusion.csv", index=False)
    write_manifest(new_edc)
    iwrs = pd.read_csv(settings.landing / "iwrs" / f"IWRS_{night}.csv", dtype=str, keep_default_na=False)
    stage2 = iwrs.index[iwrs["STAGE"] == "2"]
    planted["rand_dtm"] = iwrs.at[stage2[0], "SUBJID"]
    iwrs.at[stage2[0], "RAND_DTM"] = "2024-13-45T99:00"
    iwrs.at[stage2[1], "STAGE"] = "02"
    planted["ragged"] = iwrs.at[stage2[2], "SUBJID"]
    iwrs.at[stage2[2], "SUBJID"] = "RAGGED"            # its row gets one field too many below
    path = settings.landing / "iwrs" / f"IWRS_{NEXT}.csv"
    text = iwrs.to_csv(index=False).replace("RAGGED,", f"{planted['ragged']},X,", 1)
    path.write_text(text, encoding="utf-8")             # a row held back whole: its values are not kept
    write_manifest(path)
    planted["iwrs_stage1_rows"] = int((iwrs["STAGE"] == "1").sum())
    planted["iwrs_stage2_rows"] = len(stage2)
    return planted


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("stage2")
    with generated_night(root, subjects=60, seed=11) as (settings, _, _):
        planted = _plant(settings)
        planted["instance"] = dg.DagsterInstance.ephemeral()
        assert run_nightly(settings, instance=planted["instance"]).success
        authorization = root / "stage1.yaml"
        authorization.write_text(STAGE1, encoding="utf-8")
        unblinded = replace(settings, output=root / "output_stage1", unblinding=authorization,
                            unblinded_output=root / "unblinded")
        assert run_nightly(unblinded, instance=dg.DagsterInstance.ephemeral()).success
        yield settings, unblinded, planted


def _listing(path) -> str:
    sheet = openpyxl.load_workbook(path).active
    return "\n".join(" ".join(str(c) for c in row if c is not None) for row in sheet.iter_rows(values_only=True))


def test_stage2_findings_stay_out_of_the_blinded_listings(nights):
    settings, _, planted = nights
    findings = pd.read_csv(settings.output / "findings" / "findings.csv", dtype=str, keep_default_na=False)
    text = "\n".join(findings["message"])
    assert "5000" not in text and "2024-13-45" not in text and "05-999" not in set(findings["subjid"])
    infusions = findings.loc[findings["file"].str.endswith("infusion.csv") | findings["message"].str.startswith(
        "infusion:"), "message"]
    assert not infusions.str.contains("WEEK4|WEEK5", case=False).any()
    assert not findings["message"].str.startswith("randomization:").any()
    assert not ((findings["file"].str.startswith("IWRS_")) & (findings["status"] == "open")).any(), \
        "a malformed stage-2 randomization row is stage 2 for the blinded reader too"
    ec, _ = pyreadstat.read_xport(str(AreaFolders(settings.output / "blinded", "NCT05985863").sdtm / "ec.xpt"))
    subject, started = planted["respelled"]
    assert not ((ec["USUBJID"].str.endswith(subject)) & (ec["ECSTDTC"].str[:16] == started[:16])).any()
    listings = "\n".join(_listing(p) for p in (settings.output / "findings").glob("site*_queries.xlsx"))
    assert "5000" not in listings and "2024-13-45" not in listings and "05-999" not in listings
    report = json.loads((settings.output / "run_report.json").read_text(encoding="utf-8"))
    assert report["findings"]["open"] == int((findings["status"] == "open").sum())
    quality = (settings.output / "quality" / "result.json").read_text(encoding="utf-8")
    assert "5000" not in quality and "2024-13-45" not in quality


def test_the_blinded_counts_leave_out_the_stage2_rows(nights):
    settings, _, planted = nights
    report = json.loads((settings.output / "run_report.json").read_text(encoding="utf-8"))
    iwrs = next(t for t in report["transfers"] if t["file"] == f"IWRS_{NEXT}.csv")
    assert iwrs["rows_read"] == planted["iwrs_stage1_rows"] and iwrs["balanced"]
    assert iwrs["rows_loaded"] + iwrs["rows_quarantined"] == planted["iwrs_stage1_rows"]


def test_the_blinded_dagster_metadata_leaves_them_out(nights):
    _, _, planted = nights
    records = planted["instance"].fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("staged_source"), asset_partitions=["iwrs"]), limit=1).records
    metadata = records[0].asset_materialization.metadata
    assert metadata["rows_loaded"].value + metadata["rows_quarantined"].value == planted["iwrs_stage1_rows"]
    assert f"| {planted['iwrs_stage1_rows']} |" in metadata["transfers"].value
    report = planted["instance"].fetch_materializations(dg.AssetKey("run_report"), limit=1).records
    summary = report[0].asset_materialization.metadata["summary"].value
    line = next(line for line in summary.splitlines() if f"IWRS_{NEXT}.csv" in line)
    assert line.split()[3] == f"{planted['iwrs_stage1_rows']:,}"     # source, transfer, status, read, ...


def test_the_unblinded_area_lists_them_with_the_full_counts(nights):
    _, unblinded, planted = nights
    folder = unblinded.unblinded_output / "findings"
    findings = pd.read_csv(folder / "findings.csv", dtype=str, keep_default_na=False)
    assert (findings["level"] == "stage1").all()
    open_ = findings[findings["status"] == "open"]
    by_rule = {rule: set(group["subjid"]) for rule, group in open_.groupby("rule")}
    assert {planted["volume"], planted["rand_dtm"]} <= by_rule["schema_violation"]
    assert planted["duplicate"] in by_rule["quarantined_row"]
    assert "05-999" in by_rule["orphan_subject"]
    assert "5000" in "\n".join(open_["message"])
    counts = pd.read_csv(folder / "reconciliation.csv", dtype=str).set_index("file")
    iwrs = counts.loc[f"IWRS_{NEXT}.csv"]
    assert int(iwrs["rows_read"]) == planted["iwrs_stage1_rows"] + planted["iwrs_stage2_rows"]
    assert int(iwrs["stage2_loaded"]) + int(iwrs["stage2_quarantined"]) == planted["iwrs_stage2_rows"]


def test_a_blinded_outcome_balances_as_the_full_one():
    full = TransferOutcome("iwrs", "IWRS_1.csv", None, "loaded", rows_read=10, rows_loaded=8, rows_quarantined=2,
                           stage2_loaded=3, stage2_quarantined=1)
    seen = full.blinded()
    assert (seen.rows_read, seen.rows_loaded, seen.rows_quarantined) == (6, 5, 1) and seen.balanced
    assert TransferOutcome("site01", "S.csv", None, "rejected").blinded().rows_read is None
