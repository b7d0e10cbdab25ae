"""Incremental nights equal a full recomputation in the cases tests/harmonize/test_incremental.py
does not build: a site's snapshot that loses, changes, reorders and adds records; a subject whose
every lab row leaves its site's snapshot and later comes back; two sites on the same night; a result
that turns negative zero or implausible (a schema failure) and is corrected; and a night in which
only the EDC forms change (one subject's first infusion moves, so its study days and visits do).

One small generated study, its first night in full, then nights made by editing a copy of a site's
first snapshot (or of the EDC folder) and delivering it under a later date, each night incremental:

  night 2  site01: records vanish, results change, the rows are reordered (by subject, and two rows
           of one subject swapped), a subject gets an unscheduled sample
  night 3  site02 and site04: a site04 subject's every row is gone; a site02 bilirubin result is
           '-0.0' and a platelet count 99999 (both outside the plausible range: schema failures);
           a site04 ALT reference low limit is '0'
  night 4  site02 and site04: the subject's rows are back, the two results corrected, the
           reference low limit '-0' (the same number, its sign only: LB's LBSTNRLO and ADLB's ANRLO
           become -0.0, which only Dataset-JSON shows)
  night 5  EDC only: one subject's first infusion and week-0 visit three days later

After nights 3, 4 and 5 the same data is recomputed in full on the same store (as test_incremental
does: the harmonized table's and the trace's fingerprints forgotten, no kept suite result, a fresh
output folder), and also without the harmonized table's Parquet copy: with no new transfer, the
table's inputs are those the incremental night saved it under, and harmonization would keep that
table as it is (the comparison would hold the table against itself); without its copy it builds the
table whole. Night 2 is not recomputed (a full night costs 10 s here): site01 sends nothing on night
3, so its rows and records compared then are those night 2 made. Each incremental night after a
recomputation starts from the store as the recomputation left it, its output folder (hand-off,
digests, ADaM's kept datasets, row indexes) that of the incremental nights.

Compared: every package file (bench.compare_outputs: XPT values and bytes, define.xml, Dataset-JSON,
the findings, the expectation results, the listings), the harmonized table as its readers get it
(its Parquet copy, a -0.0 told from 0.0) and as the store holds it, its schema failures and the
blinded SDTM trace.
"""
from __future__ import annotations

import csv
import io
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aclf.inputs
from aclf.current import vanished_records
from aclf.settings import Settings
from aclf.store import make_engine
from aclf.synth import generate
from bench.compare_outputs import compare
from pipelines.cli import deliver_night
from recomputation import forget_kept_work, frame_differences, harmonized_state, run_night
from support import store_url, write_manifest

SUBJECTS, SEED = 40, 13
FIRST = "20250630"                       # the generated night (generate's default last night)
NIGHTS = ("20250701", "20250702", "20250703", "20250704")     # the scenarios' nights, in the docstring's order
COMPARED = NIGHTS[1:]                    # recomputed in full after the incremental night
# how each edited site writes its snapshot (aclf.synth.writers): file name, encoding, delimiter, line end
DIALECTS = {"site01": ("SITE01_{}.csv", "utf-8-sig", ",", "\r\n"), "site02": ("SITE02_{}.csv", "gb18030", ",", "\n"),
            "site04": ("SITE04_{}.txt", "utf-8", "\t", "\n")}


# ---- snapshots: a copy of the site's first snapshot, edited, under a later night's name ----------

def _read(path: Path, source: str) -> tuple[list[str], list[list[str]]]:
    _, encoding, delimiter, _ = DIALECTS[source]
    rows = list(csv.reader(io.StringIO(path.read_text(encoding=encoding), newline=""), delimiter=delimiter))
    return rows[0], rows[1:]


def _snapshot(incoming: Path, source: str, night: str, edit) -> None:
    """The site's first snapshot with ``edit(header, rows) -> rows`` applied, written under the
    night's name in the site's dialect, with its checksum file."""
    name, encoding, delimiter, end = DIALECTS[source]
    header, rows = _read(incoming / source / name.format(FIRST), source)
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=end).writerows([header, *edit(header, rows)])
    path = incoming / source / name.format(night)
    path.write_bytes(out.getvalue().encode(encoding))
    write_manifest(path)


def _column(header: list[str], rows: list[list[str]], name: str) -> list[str]:
    return [r[header.index(name)] for r in rows]


def _subjects(header, rows, column: str) -> list[str]:
    return list(dict.fromkeys(_column(header, rows, column)))


def _edc_snapshot(incoming: Path, night: str, subjid: str, days: int) -> None:
    """The first EDC folder with the subject's week-0 infusion and week-0 visit ``days`` later."""
    folder = incoming / "edc" / f"EDC_{night}"
    shutil.copytree(incoming / "edc" / f"EDC_{FIRST}", folder)
    (folder / "MANIFEST.sha256").unlink()
    for file, columns in (("infusion.csv", ["INF_START", "INF_END"]), ("visits.csv", ["VISIT_DATE"])):
        frame = pd.read_csv(folder / file, dtype=str, keep_default_na=False)
        at = (frame["SUBJID"] == subjid) & (frame["VISIT"] == "WEEK0")
        assert at.sum() == 1
        for column in columns:
            frame.loc[at, column] = (pd.to_datetime(frame.loc[at, column]) + pd.Timedelta(days=days)).dt.strftime(
                "%Y-%m-%dT%H:%M" if "T" in frame.loc[at, column].iat[0] else "%Y-%m-%d")
        frame.to_csv(folder / file, index=False, encoding="utf-8", lineterminator="\n")
    write_manifest(folder)


# ---- the scenarios' edits --------------------------------------------------------------------------

def _site01_changes(header, rows, plan: dict) -> list[list[str]]:
    """Night 2: a whole sample of one subject and one record of another vanish; two results change;
    a new unscheduled sample (the subject's last one again, an hour later, new accession); the rows
    ordered by subject (each subject's rows in their order), then two rows of one subject swapped."""
    at = {name: header.index(name) for name in ("SUBJECT_NO", "SAMPLE_ID", "TEST_CODE", "RESULT", "VISIT",
                                                 "COLLECT_DTM")}
    subjects = _subjects(header, rows, "SUBJECT_NO")
    a, b, c, d, e = subjects[1:6]
    gone_sample = [r for r in rows if r[at["SUBJECT_NO"]] == a][-1][at["SAMPLE_ID"]]
    gone_one = next(r for r in rows if r[at["SUBJECT_NO"]] == b)
    kept = [r for r in rows if r[at["SAMPLE_ID"]] != gone_sample and r is not gone_one]
    changed = []
    for subject in (b, c):
        row = next(r for r in kept if r[at["SUBJECT_NO"]] == subject and r[at["TEST_CODE"]] == "TBIL")
        row[at["RESULT"]] = f"{float(row[at['RESULT']]) + 1.5:.1f}"
        changed.append((row[at["SAMPLE_ID"]], row[at["RESULT"]]))
    last = [r for r in kept if r[at["SUBJECT_NO"]] == e]
    last = [r for r in last if r[at["SAMPLE_ID"]] == last[-1][at["SAMPLE_ID"]]]
    new_sample = "LX" + last[0][at["SAMPLE_ID"]][2:]
    when = pd.Timestamp(last[0][at["COLLECT_DTM"]]) + pd.Timedelta(hours=1)
    added = [[*r] for r in last]
    for r in added:
        r[at["SAMPLE_ID"]], r[at["VISIT"]], r[at["COLLECT_DTM"]] = new_sample, "Unscheduled", f"{when:%Y-%m-%d %H:%M}"
    kept += added
    order = {s: n for n, s in enumerate(subjects)}
    kept.sort(key=lambda r: order[r[at["SUBJECT_NO"]]])
    of_d = [n for n, r in enumerate(kept) if r[at["SUBJECT_NO"]] == d]
    kept[of_d[0]], kept[of_d[1]] = kept[of_d[1]], kept[of_d[0]]
    plan.update(site01_gone=(gone_sample, gone_one[at["SAMPLE_ID"]], gone_one[at["TEST_CODE"]]),
                site01_changed=changed, site01_added=new_sample, site01_subject_added=e)
    return kept


def _site02_results(header, rows, plan: dict, bad: bool) -> list[list[str]]:
    """Nights 3 and 4: a bilirubin result '-0.0' and a platelet count 99999 (night 3), as sent (4)."""
    subject = _subjects(header, rows, "受试者编号")[1]
    at = {name: header.index(name) for name in ("受试者编号", "标本号", "检验项目", "结果")}
    records = []
    for test, value in (("总胆红素", "-0.0"), ("血小板计数", "99999")):
        row = next(r for r in rows if r[at["受试者编号"]] == subject and r[at["检验项目"]] == test)
        records.append(row[at["标本号"]])
        if bad:
            row[at["结果"]] = value
    plan["site02_bad"] = records
    return rows


def _site04_rows(header, rows, plan: dict, night: int) -> list[list[str]]:
    """Of the site's randomized subjects, night 3: the second one's rows gone, the first ALT record
    of the first one with a low limit '0'; night 4: every row as sent, that limit '-0'."""
    at = {name: header.index(name) for name in ("SUBJID", "ANALYTE", "LOW", "ACCESSION")}
    randomized = [s for s in _subjects(header, rows, "SUBJID") if f"04-{s[-3:]}" in plan["randomized"]]
    first, gone = randomized[:2]
    row = next(r for r in rows if r[at["SUBJID"]] == first and r[at["ANALYTE"]] == "ALT")
    row[at["LOW"]] = "0" if night == 3 else "-0"
    plan.update(site04_gone=f"04-{gone[-3:]}", site04_zero_limit=(row[at["ACCESSION"]], "ALT"),
                site04_zero_subject=f"04-{first[-3:]}")
    return [r for r in rows if r[at["SUBJID"]] != gone] if night == 3 else rows


# ---- nights and their full recomputation -----------------------------------------------------------

def _state(settings: Settings, engine, output: Path) -> dict:
    """What a night leaves: the harmonized table, its schema failures and the trace
    (recomputation.harmonized_state), ADaM's ADLB as kept for the next night (the package's
    records), and the output folder."""
    return {**harmonized_state(settings, engine),
            "adlb": pd.read_parquet(output / "blinded" / "adam_by_subject" / "ADLB.parquet"), "output": output}


def _recompute_in_full(settings: Settings, engine, night: str) -> dict:
    """The night run again on the same store with nothing kept (the module docstring says how), into
    a fresh output folder; what it leaves (``_state``)."""
    forget_kept_work(settings, engine)
    full = replace(settings, output=settings.output.with_name(f"output_full_{night}"))
    run_night(full)
    return _state(full, engine, full.output)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenarios")
    incoming = root / "incoming"
    generate(incoming, subjects=SUBJECTS, seed=SEED, nights=1, in_flight=())
    iwrs = pd.read_csv(incoming / "iwrs" / f"IWRS_{FIRST}.csv", dtype=str)
    plan: dict = {"randomized": set(iwrs["SUBJID"])}
    infusion = pd.read_csv(incoming / "edc" / f"EDC_{FIRST}" / "infusion.csv", dtype=str, keep_default_na=False)
    plan["moved"] = next(s for s in infusion.loc[(infusion["VISIT"] == "WEEK0") & (infusion["DONE"] == "Y"), "SUBJID"]
                         if s.startswith("04-"))
    n2, n3, n4, n5 = NIGHTS
    _snapshot(incoming, "site01", n2, lambda h, r: _site01_changes(h, r, plan))
    _snapshot(incoming, "site02", n3, lambda h, r: _site02_results(h, r, plan, bad=True))
    _snapshot(incoming, "site04", n3, lambda h, r: _site04_rows(h, r, plan, night=3))
    _snapshot(incoming, "site02", n4, lambda h, r: _site02_results(h, r, plan, bad=False))
    _snapshot(incoming, "site04", n4, lambda h, r: _site04_rows(h, r, plan, night=4))
    _edc_snapshot(incoming, n5, plan["moved"], days=3)
    nights = {}
    with pytest.MonkeyPatch.context() as patch, store_url(root) as url:
        patch.setattr(aclf.inputs, "code_version", lambda: "1.0+gabc")     # a clean checkout: fingerprints kept
        settings = Settings.resolve(landing=root / "landing", output=root / "output", archive=root / "archive",
                                    database_url=url)
        engine = make_engine(url)
        assert deliver_night(incoming, settings.landing, FIRST)
        run_night(settings)
        nights[FIRST] = {"incremental": _state(settings, engine, settings.output)}
        for night in NIGHTS:
            delivered = deliver_night(incoming, settings.landing, night)
            assert delivered
            run_night(settings)
            incremental = _state(settings, engine, settings.output)
            incremental["vanished"] = vanished_records(engine)
            incremental["dm"] = pd.read_parquet(settings.output / "blinded" / "handoff" / "sdtm" / "DM.parquet")
            nights[night] = {"delivered": delivered, "incremental": incremental}
            if night in COMPARED:
                full = _recompute_in_full(settings, engine, night)
                nights[night].update(full=full, files=compare(settings.output, full["output"]))  # before the next night
        engine.dispose()
        yield {"plan": plan, "nights": nights}


# ---- incremental == full -----------------------------------------------------------------------------

@pytest.mark.parametrize("night", COMPARED)
def test_every_output_file_equals_a_full_recomputation(study, night):
    assert study["nights"][night]["files"] == []


@pytest.mark.parametrize("night", COMPARED)
def test_the_harmonized_table_equals_a_full_recomputation(study, night):
    incremental, full = study["nights"][night]["incremental"], study["nights"][night]["full"]
    assert frame_differences(incremental["lab"], full["lab"]) == []
    assert frame_differences(incremental["stored_lab"], full["stored_lab"]) == []


@pytest.mark.parametrize("night", COMPARED)
def test_the_schema_failures_equal_a_full_recomputation(study, night):
    incremental, full = study["nights"][night]["incremental"], study["nights"][night]["full"]
    assert frame_differences(incremental["failures"], full["failures"]) == []


@pytest.mark.parametrize("night", COMPARED)
def test_the_trace_equals_a_full_recomputation(study, night):
    incremental, full = study["nights"][night]["incremental"], study["nights"][night]["full"]
    assert len(incremental["trace"]) > 0
    pd.testing.assert_frame_equal(incremental["trace"], full["trace"])


def test_a_reference_limit_turned_negative_zero_keeps_its_sign_in_adlb(study):
    """Night 4's '-0' low limit (night 3's '0'): the harmonized table and LB rebuild the record (its
    original limit's text changed), and a full recomputation's ADLB has ANRLO -0.0 for it (Dataset-
    JSON writes the sign). The incremental night's ADLB must too, not keep the night before's 0.0."""
    subject = study["plan"]["site04_zero_subject"]
    night = study["nights"]["20250703"]
    limits = []
    for state in (night["full"], night["incremental"]):
        adlb = state["adlb"]
        [limit] = adlb.loc[adlb["USUBJID"].str.endswith(subject) & (adlb["PARAMCD"] == "ALT") & (adlb["ANRLO"] == 0),
                           "ANRLO"].tolist()
        limits.append(bool(np.signbit(limit)))
    assert limits == [True, True], "ANRLO's sign (full, incremental)"


# ---- each night did what its scenario says (else the comparisons above prove little) -------------------

@pytest.mark.parametrize("night", COMPARED)
def test_the_recomputation_saved_a_harmonized_table_of_its_own(study, night):
    """A table kept whole keeps its version: the recomputation's must be a new one (else the
    comparison above holds the incremental night's table against itself)."""
    night = study["nights"][night]
    assert night["full"]["token"] != night["incremental"]["token"]


@pytest.mark.parametrize("night", NIGHTS[:3])
def test_a_lab_night_rebuilds_the_harmonized_rows_of_the_sites_that_sent_only(study, night):
    """The lab nights were incremental: the rows of the sites that sent are replaced (new store ids),
    the others' rows kept (their ids). (The EDC night's infusion form dates every study day: every
    site is rebuilt, whole, and the store numbers the rows afresh; night 5's test holds its days.)"""
    nights = study["nights"]
    before = nights[([FIRST, *NIGHTS])[NIGHTS.index(night)]]
    before = before.get("full", before["incremental"])["ids"]          # the last run before the night
    after = nights[night]["incremental"]["ids"]
    sent = {path.split("/")[0] for path in nights[night]["delivered"]}
    assert set(after["source"]) == set(before["source"]) > sent
    new = after[after["source"].isin(sent)]
    assert len(new) > 0 and new["id"].min() > before["id"].max()
    assert set(after.loc[~after["source"].isin(sent), "id"]) == set(before.loc[~before["source"].isin(sent), "id"])


def _rows(lab: pd.DataFrame, sample: str, test: str | None = None) -> pd.DataFrame:
    return lab[(lab["sample_id"] == sample) & ((lab["test_raw"] == test) if test else True)]


def test_night_2_site01_lost_changed_and_gained_records(study):
    plan, night = study["plan"], study["nights"]["20250701"]
    assert night["delivered"] == ["site01/SITE01_20250701.csv", "site01/SITE01_20250701.csv.sha256"]
    lab, vanished = night["incremental"]["lab"], night["incremental"]["vanished"]
    gone_sample, sample, test = plan["site01_gone"]
    assert _rows(lab, gone_sample).empty and _rows(lab, sample, test).empty
    keys = set(vanished.loc[vanished["source"] == "site01", "record_key"])
    assert f"01|{sample}|{test}" in keys and sum(k.startswith(f"01|{gone_sample}|") for k in keys) == 11
    for sample, value in plan["site01_changed"]:
        assert _rows(lab, sample, "TBIL")["lborres"].tolist() == [value]
    added = _rows(lab, plan["site01_added"])
    assert len(added) == 11 and set(added["subjid"]) == {plan["site01_subject_added"]}
    assert set(added["visit"]) == {"UNSCHEDULED"}


def test_night_3_a_subject_is_gone_and_two_results_fail_the_schema(study):
    plan, night = study["plan"], study["nights"]["20250702"]
    assert {p.split("/")[0] for p in night["delivered"]} == {"site02", "site04"}
    lab, failures = night["incremental"]["lab"], night["incremental"]["failures"]
    assert not (lab["subjid"] == plan["site04_gone"]).any()
    bilirubin, platelets = plan["site02_bad"]
    [zero] = _rows(lab, bilirubin, "总胆红素")["lbstresn"].tolist()
    assert zero == 0 and np.signbit(zero)
    failing = lab.iloc[failures.loc[failures["check"] == "plausible_range", "index"].dropna().astype(int).unique()]
    assert {bilirubin, platelets} <= set(failing["sample_id"])
    trace = night["incremental"]["trace"]
    lb = trace[trace["dataset"] == "LB"]
    assert len(lb) > 0 and not lb["usubjid"].str.endswith(plan["site04_gone"]).any()
    before, adlb = study["nights"]["20250701"]["incremental"]["adlb"], night["incremental"]["adlb"]
    assert before["USUBJID"].str.endswith(plan["site04_gone"]).any()      # a randomized subject, in ADLB
    assert not adlb["USUBJID"].str.endswith(plan["site04_gone"]).any()


def test_night_4_the_subject_is_back_and_the_failures_are_gone(study):
    plan, nights = study["plan"], study["nights"]
    lab, failures = nights["20250703"]["incremental"]["lab"], nights["20250703"]["incremental"]["failures"]
    assert (lab["subjid"] == plan["site04_gone"]).sum() == (nights[FIRST]["incremental"]["lab"]["subjid"]
                                                            == plan["site04_gone"]).sum() > 0
    failing = lab.iloc[failures["index"].dropna().astype(int).unique()]
    assert not set(plan["site02_bad"]) & set(failing["sample_id"])
    adlb = [nights[n]["incremental"]["adlb"] for n in ("20250701", "20250703")]
    assert [(a["USUBJID"].str.endswith(plan["site04_gone"])).sum() for a in adlb] == \
        [adlb[0]["USUBJID"].str.endswith(plan["site04_gone"]).sum()] * 2
    sample, test = plan["site04_zero_limit"]
    [limit] = _rows(lab, sample, test)["lbstnrlo"].tolist()
    assert limit == 0 and np.signbit(limit)


def test_night_5_the_moved_infusion_moves_the_subjects_study_days(study):
    plan, nights = study["plan"], study["nights"]
    assert {p.split("/")[0] for p in nights["20250704"]["delivered"]} == {"edc"}
    before, after = (nights[n]["incremental"] for n in ("20250703", "20250704"))
    moved = plan["moved"]

    def of_moved(state: dict, frame: str, column: str) -> pd.Series:
        table = state[frame]
        rows = table["subjid"] == moved if "subjid" in table else table["USUBJID"].str.endswith(moved)
        return table.loc[rows, column].reset_index(drop=True)

    days = [of_moved(state, "lab", "lbdy") for state in (before, after)]
    assert len(days[0]) > 0 and (days[0] - days[1]).dropna().isin([3, 4]).all()
    visits = [of_moved(state, "lab", "avisit") for state in (before, after)]
    assert (visits[0] != visits[1]).any()                              # some records in another window
    assert of_moved(before, "dm", "RFSTDTC").item() != of_moved(after, "dm", "RFSTDTC").item()
    starts = [of_moved(state, "adlb", "TRTSDT").unique().tolist() for state in (before, after)]
    assert len(starts[0]) == len(starts[1]) == 1 and starts[0] != starts[1]
    others = [state["lab"].loc[state["lab"]["subjid"] != moved, "lbdy"].reset_index(drop=True)
              for state in (before, after)]
    assert others[0].equals(others[1])
