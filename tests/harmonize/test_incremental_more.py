"""Incremental nights equal a full recomputation in cases test_incremental_scenarios.py does not
build: under an authorized unblinding (both areas built every night, the unblinded one compared too:
its packages, its reports by arm, its stage-2 findings and listings); the two sites whose dialects that
module does not edit (site03's workbook, site05's SPSS file); reference ranges in a site unit that is
converted to the standard unit, changing between nights; EDC forms other than the infusion date
(consent, a withdrawal, adverse events added, changed and removed, assessments moved out of and into
a visit window); and the IWRS randomization changing (a stage-1 date corrected, a stage-2
randomization arriving, a stage-2 number corrected to the other treatment), which must change the
unblinded area as the key says and leave nothing in the blinded area that tells an assignment.

One small generated study. Before its first night, the stage-2 randomization of one re-randomized
subject (X) and X's week-4 and week-5 infusions are taken out of the first IWRS and EDC snapshots (as
if X's week 4 were still to come); they arrive on night 3. The first night runs in full, then:

  night 1  site03 and site05. site03 (a copy of its workbook edited with openpyxl): a sample row
           deleted, a bilirubin cell changed, an ALT cell emptied; on its 'Reference ranges' sheet the
           bilirubin upper limit 20.5 -> 22.2 umol/L (converted to mg/dL: 1.199 -> 1.298) and the
           albumin range restated in g/dL (40-55 g/L as 4.0-5.5 g/dL: the same range). site05 (read
           with pyreadstat, written as the generator writes it): every bilirubin upper limit 19 -> 21
           umol/L (1.111 -> 1.228 mg/dL), one subject's ALT result doubled, one record gone, and one
           sample's collection moved from its visit window to a day outside every window
  night 2  EDC and IWRS. A subject's consent a day earlier; an ongoing subject withdraws; an adverse
           event added (coded), one changed (grade and end date), one removed; a week-2 assessment
           moved out of every window, a week-1 assessment moved into the week-2 window; a stage-1
           randomization date a day earlier (IWRS)
  night 3  IWRS, EDC and the randomization key. X's stage-2 randomization and X's week-4/5 infusions
           arrive; another subject's (Z) stage-2 randomization is corrected to a new randomization
           number of the other treatment (the key's new transfer holds it) and a day later

After each night the same data is recomputed in full on the same store, as test_incremental_scenarios
does (the harmonized table's and the trace's fingerprints forgotten, no kept suite result, the
harmonized table's Parquet copy deleted), into a fresh blinded output folder and a fresh unblinded
area. The unblinded area keeps no store, but it does keep files: its packages are spliced from the
files in force by their digests and row indexes, so an incremental night's unblinded area is not a
fresh build either.

The albumin range restated in g/dL also holds the product, in both recomputations, to the unit the
sheet gives its ranges in (test_a_reference_range_restated_in_another_unit_keeps_its_standard_limits).

Compared, per night: every package file, finding and listing of both areas (bench.compare_outputs),
the unblinded reports' tables by arm, its report page (its SVG figure aside: matplotlib names the
SVG's elements at random) and reconciliation, the harmonized table as its readers get it and as the
store holds it, its schema failures and the blinded SDTM trace. Night 3 also holds the blinded area to
the night before: besides the data cut, nothing may change.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import openpyxl
import pandas as pd
import pyreadstat
import pytest

import aclf.inputs
from aclf.current import vanished_records
from aclf.settings import Settings
from aclf.store import make_engine
from aclf.synth import generate
from aclf.synth.writers import write_site05
from bench.compare_outputs import compare
from cdisc.area import AreaFolders
from pipelines.cli import deliver_night
from recomputation import forget_kept_work, frame_differences, harmonized_state, run_night
from support import store_url, write_manifest

SUBJECTS, SEED = 40, 13
STUDYID = "NCT05985863"
FIRST = "20250630"                        # the generated night (generate's default last night)
NIGHTS = ("20250701", "20250702", "20250703")   # the scenarios' nights, in the docstring's order
AUTHORIZATION = ("- {stage: 1, authorized_by: DMC chair, authorized_on: 2025-01-15, reference: DMC-001}\n"
                 "- {stage: 2, authorized_by: DMC chair, authorized_on: 2025-06-15, reference: DMC-002}\n")
# the arm at the level 'full' of each (stage-1, stage-2) treatment path (study/sdtm/trial_design.yaml)
ARMCD = {("PLACEBO", ""): "PBO", ("HUC-MSC", ""): "MSC3", ("HUC-MSC", "PLACEBO"): "MSC3PBO2",
         ("HUC-MSC", "HUC-MSC"): "MSC5"}
OTHER = {"PLACEBO": "HUC-MSC", "HUC-MSC": "PLACEBO"}
REPORT_TABLES = ("tfs_rates_by_arm.csv", "teae_incidence_by_arm_and_stage.csv")
SVG = re.compile(r"<svg.*?</svg>", re.S)
READ = {"blinded": ("DM", "DS", "AE", "RS", "ADSL", "ADSCORE", "ADLB", "TS"),
        "unblinded": ("DM", "DS", "EX", "SE", "ADSL", "ADLB", "ADSCORE")}


# ---- snapshots: copies of the first night's transfers, edited, under a later night's name -------

def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """As the generator writes the EDC forms, the IWRS list and the key (a frame read by _csv and
    written back is the same file, byte for byte)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")


def _edc(incoming: Path, night: str) -> dict[str, pd.DataFrame]:
    return {p.name: _csv(p) for p in sorted((incoming / "edc" / f"EDC_{night}").glob("*.csv"))}


def _write_edc(incoming: Path, night: str, tables: dict[str, pd.DataFrame]) -> None:
    folder = incoming / "edc" / f"EDC_{night}"
    for name, frame in tables.items():
        _write_csv(frame, folder / name)
    write_manifest(folder)


def _write_iwrs(incoming: Path, night: str, frame: pd.DataFrame, source: str = "iwrs", prefix: str = "IWRS") -> None:
    path = incoming / source / f"{prefix}_{night}.csv"
    _write_csv(frame, path)
    write_manifest(path)


def _shift(value: str, days: int) -> str:
    """An ISO date or date-time ``days`` later, written as it was."""
    moved = pd.Timestamp(value) + pd.Timedelta(days=days)
    return f"{moved:%Y-%m-%dT%H:%M}" if "T" in value else f"{moved:%Y-%m-%d}"


def _site03(incoming: Path, night: str, plan: dict) -> None:
    """Night 1's site03 workbook: the first one opened with openpyxl, edited, saved under the night's
    name. The sample rows and cells are chosen among randomized subjects (the module docstring)."""
    workbook = openpyxl.load_workbook(incoming / "site03" / f"SITE03_{FIRST}.xlsx")
    lab = workbook["Lab"]
    header = [c.value for c in lab[1]]
    col = {name: header.index(name) + 1 for name in header}
    tbil, alt = next(h for h in header if h.startswith("TBIL")), next(h for h in header if h.startswith("ALT"))

    def subjid(value) -> str:
        text = str(value).zfill(5)
        return f"03-{text[-3:]}"

    rows = [(r, subjid(lab.cell(r, col["Subject"]).value), lab.cell(r, col["Sample No"]).value)
            for r in range(2, lab.max_row + 1)]
    subjects = list(dict.fromkeys(s for _, s, _ in rows if s in plan["randomized"]))
    a, b, c = subjects[:3]
    gone = [r for r, s, _ in rows if s == a][-1]
    changed = [r for r, s, _ in rows if s == b and isinstance(lab.cell(r, col[tbil]).value, (int, float))][1]
    emptied = [r for r, s, _ in rows if s == c and lab.cell(r, col[alt]).value not in (None, "")][0]
    value = round(float(lab.cell(changed, col[tbil]).value) + 15.0, 1)
    lab.cell(changed, col[tbil]).value = value
    plan["site03"] = {"gone_sample": lab.cell(gone, col["Sample No"]).value,
                      "changed": (lab.cell(changed, col["Sample No"]).value, value),
                      "emptied": lab.cell(emptied, col["Sample No"]).value}
    lab.cell(emptied, col[alt]).value = None
    lab.delete_rows(gone)
    ranges = workbook["Reference ranges"]
    for row in ranges.iter_rows(min_row=2):
        if row[0].value == "TBIL":
            row[2].value = 22.2
        elif row[0].value == "ALB":
            assert (row[1].value, row[2].value, row[3].value) == (40, 55, "g/L")
            row[1].value, row[2].value, row[3].value = 4.0, 5.5, "g/dL"
    path = incoming / "site03" / f"SITE03_{night}.xlsx"
    workbook.save(path)
    write_manifest(path)


def _site05(incoming: Path, night: str, plan: dict) -> None:
    """Night 1's site05 file: the first one read with pyreadstat (codes, not labels), edited, and
    written by the generator's own writer (which gives the first file back byte for byte unedited)."""
    first = incoming / "site05" / f"SITE05_{FIRST}.sav"
    frame, meta = pyreadstat.read_sav(str(first))
    frame["_subjid"] = "05-" + frame["subj"].astype(int).astype(str).str[-3:]
    subjects = [s for s in dict.fromkeys(frame["_subjid"]) if s in plan["randomized"]]
    a, b = subjects[:2]
    frame.loc[frame["lbcode"] == 1, "nrhi"] = 21.0                               # bilirubin, umol/L
    doubled = frame.index[(frame["_subjid"] == a) & (frame["lbcode"] == 10) & frame["lbres"].notna()][1]
    frame.loc[doubled, "lbres"] = frame.loc[doubled, "lbres"] * 2
    gone = frame.index[(frame["_subjid"] == b) & (frame["lbcode"] == 11)][0]
    # a week-2 sample (window: protocol days 12 to 16) moved to day 18, outside every window
    week2 = frame[(frame["visno"] == 5) & ~frame["_subjid"].isin([a, b]) & frame["_subjid"].isin(plan["randomized"])]
    days = (week2["sampdt"].dt.normalize() - week2["_subjid"].map(plan["first_infusion"])).dt.days
    row = days.index[days.between(12, 16)][0]
    sample, c, day = week2.at[row, "sampid"], week2.at[row, "_subjid"], int(days[row])
    moved = frame["sampid"] == sample
    frame.loc[moved, "sampdt"] = frame.loc[moved, "sampdt"] + pd.Timedelta(days=18 - day)
    plan["site05"] = {"doubled": (frame.at[doubled, "sampid"], frame.at[doubled, "lbres"]),
                      "gone": (frame.at[gone, "sampid"], b), "moved": (sample, c, day)}
    frame = frame.drop(index=gone).drop(columns="_subjid").reset_index(drop=True)
    path = incoming / "site05" / f"SITE05_{night}.sav"
    write_site05(frame, path, meta.creation_time + pd.Timedelta(days=1))
    write_manifest(path)


def _withhold_stage2(incoming: Path, plan: dict) -> None:
    """X's stage-2 randomization and week-4/5 infusions out of the first IWRS and EDC snapshots (the
    generated ones kept in ``plan`` to bring them back on night 3)."""
    _write_iwrs(incoming, FIRST, plan["iwrs0"][~plan["x_stage2"]])
    tables = _edc(incoming, FIRST)
    infusion = tables["infusion.csv"]
    tables["infusion.csv"] = infusion[~((infusion["SUBJID"] == plan["x"]) & infusion["VISIT"].isin(["WEEK4", "WEEK5"]))]
    assert len(tables["infusion.csv"]) == len(infusion) - 2
    _write_edc(incoming, FIRST, tables)


def _edc_night2(incoming: Path, plan: dict) -> dict[str, pd.DataFrame]:
    """Night 2's EDC forms: the first night's with the consent, withdrawal, adverse event and
    assessment changes of the module docstring."""
    tables = {name: frame.copy() for name, frame in _edc(incoming, FIRST).items()}
    enrol, eos, ae = tables["enrollment.csv"], tables["end_of_study.csv"], tables["adverse_events.csv"]
    assess, visits = tables["clinical_assessment.csv"], tables["visits.csv"]
    taken = {plan["x"], plan["z"], plan["y"]}
    ongoing = [s for s in plan["randomized_order"] if s not in set(eos["SUBJID"]) and s not in taken]
    consent, withdrawn = ongoing[:2]
    at = enrol["SUBJID"] == consent
    enrol.loc[at, "CONSENT_DATE"] = _shift(enrol.loc[at, "CONSENT_DATE"].item(), -1)
    last = visits.loc[visits["SUBJID"] == withdrawn, "VISIT_DATE"].max()
    tables["end_of_study.csv"] = pd.concat([eos, pd.DataFrame([{"SUBJID": withdrawn, "STATUS": "WITHDRAWAL BY SUBJECT",
                                                                  "END_DATE": last, "LAST_CONTACT_DATE": last}])],
                                           ignore_index=True)
    full_dates = ae["AESTDTC"].str.fullmatch(r"\d{4}-\d\d-\d\d") & ae["AEENDTC"].str.fullmatch(r"\d{4}-\d\d-\d\d")
    coded = ae[(ae["AEDECOD"] != "") & ae["AETOXGR"].isin(["1", "2"]) & full_dates]
    changed = coded.index[~coded["SUBJID"].isin(taken | {consent, withdrawn})][0]
    ae.loc[changed, "AETOXGR"] = str(int(ae.loc[changed, "AETOXGR"]) + 1)
    ae.loc[changed, "AEENDTC"] = _shift(ae.loc[changed, "AEENDTC"], 2)
    others = ~ae["SUBJID"].isin(taken | {consent, withdrawn, ae.loc[changed, "SUBJID"]})
    removed = ae.index[others & (ae["AEDECOD"] != "")][0]
    # the added event: the changed one's terms and coding, for an ongoing subject without any event
    gained = next(s for s in ongoing[2:] if s not in set(ae["SUBJID"]) | {ae.loc[changed, "SUBJID"]})
    start = plan["first_infusion"][gained] + pd.Timedelta(days=3)
    added = ae.loc[[changed]].assign(SUBJID=gained, AESPID="1", AESTDTC=f"{start:%Y-%m-%d}",
                                     AEENDTC=f"{start + pd.Timedelta(days=2):%Y-%m-%d}", AETOXGR="2")
    plan["ae"] = {"changed": (ae.loc[changed, "SUBJID"], ae.loc[changed, "AESPID"], ae.loc[changed, "AEDECOD"]),
                  "removed": (ae.loc[removed, "SUBJID"], ae.loc[removed, "AESPID"], ae.loc[removed, "AEDECOD"]),
                  "added": (gained, added["AEDECOD"].item())}
    tables["adverse_events.csv"] = pd.concat([ae.drop(index=removed), added], ignore_index=True)
    # assessments: a week-2 one to protocol day 18 (no window), a week-1 one to day 14 (week 2's)
    moves = {}
    for visit, target in (("WEEK2", 18), ("WEEK1", 14)):
        subject = next(s for s in ongoing[2:] if s not in moves.values() and s != gained
                       and ((assess["SUBJID"] == s) & (assess["VISIT"] == visit)).any())
        at = (assess["SUBJID"] == subject) & (assess["VISIT"] == visit)
        day = (pd.Timestamp(assess.loc[at, "ASSESS_DATE"].item()) - plan["first_infusion"][subject]).days
        assess.loc[at, "ASSESS_DATE"] = _shift(assess.loc[at, "ASSESS_DATE"].item(), target - day)
        same = (visits["SUBJID"] == subject) & (visits["VISIT"] == visit)
        visits.loc[same, "VISIT_DATE"] = visits.loc[same, "VISIT_DATE"].map(lambda d: _shift(d, target - day))
        moves[visit] = subject
    plan.update(consent=consent, withdrawn=(withdrawn, last), moved_out=moves["WEEK2"], moved_in=moves["WEEK1"])
    return tables


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("more")
    incoming = root / "incoming"
    generate(incoming, subjects=SUBJECTS, seed=SEED, nights=1, in_flight=())
    iwrs0 = _csv(incoming / "iwrs" / f"IWRS_{FIRST}.csv")
    key0 = _csv(incoming / "iwrs_key" / f"RANDKEY_{FIRST}.csv")
    infusion = _edc(incoming, FIRST)["infusion.csv"]
    given = infusion[(infusion["VISIT"] == "WEEK0") & (infusion["DONE"] == "Y")]
    treatment = key0.set_index("RAND_NO")["TREATMENT"]
    stage1 = iwrs0[iwrs0["STAGE"] == "1"]
    stage2 = iwrs0[iwrs0["STAGE"] == "2"]
    alive2 = [s for s in stage2["SUBJID"] if ((infusion["SUBJID"] == s) & (infusion["VISIT"] == "WEEK5")).any()]
    x, z = alive2[-1], alive2[-2]                       # the two latest stage-2 randomizations with week 5 given
    y = next(s for s in stage1["SUBJID"] if s not in (x, z) and s.startswith("02-"))
    plan: dict = {
        "iwrs0": iwrs0, "x": x, "z": z, "y": y,
        "x_stage2": ((iwrs0["SUBJID"] == x) & (iwrs0["STAGE"] == "2")).to_numpy(),
        "randomized": set(stage1["SUBJID"]), "randomized_order": list(stage1["SUBJID"]),
        "first_infusion": pd.to_datetime(given.set_index("SUBJID")["INF_START"].str[:10]).to_dict(),
        "treatment": {s: (treatment[stage1.set_index("SUBJID").at[s, "RAND_NO"]],
                          treatment.get(stage2.set_index("SUBJID")["RAND_NO"].get(s), ""))
                      for s in stage1["SUBJID"]},
    }
    _withhold_stage2(incoming, plan)
    n1, n2, n3 = NIGHTS
    _site03(incoming, n1, plan)
    _site05(incoming, n1, plan)
    tables = _edc_night2(incoming, plan)
    _write_edc(incoming, n2, tables)
    iwrs2 = iwrs0[~plan["x_stage2"]].copy()
    at = (iwrs2["SUBJID"] == y) & (iwrs2["STAGE"] == "1")
    iwrs2.loc[at, "RAND_DTM"] = _shift(iwrs2.loc[at, "RAND_DTM"].item(), -1)
    plan["y_rand"] = iwrs2.loc[at, "RAND_DTM"].item()
    _write_iwrs(incoming, n2, iwrs2)
    # night 3: X's stage-2 row back where it was, Z's corrected; the key with Z's new number
    iwrs3 = iwrs0.copy()
    iwrs3.loc[(iwrs3["SUBJID"] == y) & (iwrs3["STAGE"] == "1"), "RAND_DTM"] = plan["y_rand"]
    at = (iwrs3["SUBJID"] == z) & (iwrs3["STAGE"] == "2")
    old = iwrs3.loc[at, "RAND_NO"].item()
    new = f"R2-{max(int(n[3:]) for n in key0['RAND_NO'] if n.startswith('R2-')) + 1:04d}"
    iwrs3.loc[at, "RAND_NO"] = new
    iwrs3.loc[at, "RAND_DTM"] = _shift(iwrs3.loc[at, "RAND_DTM"].item(), 1)
    _write_iwrs(incoming, n3, iwrs3)
    key3 = pd.concat([key0, pd.DataFrame([{"RAND_NO": new, "TREATMENT": OTHER[treatment[old]]}])], ignore_index=True)
    _write_iwrs(incoming, n3, key3, source="iwrs_key", prefix="RANDKEY")
    tables3 = {**tables, "infusion.csv": infusion}       # X's week-4/5 infusions back
    _write_edc(incoming, n3, tables3)
    plan["z_treatment"] = (treatment[old], OTHER[treatment[old]])
    authorization = root / "unblinding.yaml"
    authorization.write_text(AUTHORIZATION, encoding="utf-8")
    nights = {}
    with pytest.MonkeyPatch.context() as patch, store_url(root) as url:
        patch.setattr(aclf.inputs, "code_version", lambda: "1.0+gabc")     # a clean checkout: fingerprints kept
        settings = Settings.resolve(landing=root / "landing", output=root / "output", archive=root / "archive",
                                    database_url=url, unblinding=authorization, unblinded_output=root / "unblinded")
        engine = make_engine(url)
        assert deliver_night(incoming, settings.landing, FIRST)
        run_night(settings)
        nights[FIRST] = {"incremental": _state(settings, engine)}
        for night in NIGHTS:
            if night == NIGHTS[-1]:            # the blinded area as the night before left it
                shutil.copytree(settings.output, root / "output_before_night_3", symlinks=True)
            delivered = deliver_night(incoming, settings.landing, night)
            assert delivered
            run_night(settings)
            incremental = _state(settings, engine)
            incremental["vanished"] = vanished_records(engine)
            nights[night] = {"delivered": delivered, "incremental": incremental}
            full = _recompute_in_full(settings, engine, night)
            nights[night].update(full=full, files=compare(settings.output, full["output"]),
                                 unblinded_files=compare(settings.unblinded_output, full["unblinded_output"]),
                                 reports=_reports_differ(settings.unblinded_output, full["unblinded_output"]))
        nights[NIGHTS[-1]]["blinded_since_night_2"] = compare(root / "output_before_night_3", settings.output)
        engine.dispose()
        yield {"plan": plan, "nights": nights, "settings": settings, "root": root}


# ---- nights and their full recomputation -----------------------------------------------------------

def _xpt(folder: Path, name: str) -> pd.DataFrame:
    return pyreadstat.read_xport(str(folder / f"{name.lower()}.xpt"))[0]


def _packages(settings: Settings) -> dict[str, dict[str, pd.DataFrame]]:
    """The datasets the scenario tests read, of each area's packages in force."""
    out = {}
    for area, root in (("blinded", settings.output / "blinded"), ("unblinded", settings.unblinded_output)):
        folders = AreaFolders(root, STUDYID)
        out[area] = {name: _xpt(folders.adam if name.startswith("AD") else folders.sdtm, name) for name in READ[area]}
    return out


def _state(settings: Settings, engine) -> dict:
    """What a night leaves: the harmonized table, its schema failures and the trace
    (recomputation.harmonized_state), the datasets the scenario tests read, the run report, and the
    two output folders."""
    return {**harmonized_state(settings, engine), "packages": _packages(settings),
            "report": json.loads((settings.output / "run_report.json").read_text(encoding="utf-8")),
            "output": settings.output, "unblinded_output": settings.unblinded_output}


def _recompute_in_full(settings: Settings, engine, night: str) -> dict:
    """The night run again on the same store with nothing kept (the module docstring says how), into
    a fresh output folder and a fresh unblinded area; what it leaves (``_state``)."""
    forget_kept_work(settings, engine)
    full = replace(settings, output=settings.output.with_name(f"output_full_{night}"),
                   unblinded_output=settings.unblinded_output.with_name(f"unblinded_full_{night}"))
    full.check_unblinded_area()
    run_night(full)
    return _state(full, engine)


def _reports_differ(a: Path, b: Path) -> list[str]:
    """The unblinded reports' tables by arm, the report page without its SVG figure, and the
    reconciliation with the stage-2 rows: what differs between two unblinded areas."""
    out = []
    pairs = [(a / "reports" / n, b / "reports" / n) for n in (*REPORT_TABLES, "unblinded_report.html")]
    pairs.append((a / "findings" / "reconciliation.csv", b / "findings" / "reconciliation.csv"))
    for x, y in pairs:
        if not (x.exists() and y.exists()):
            out.append(f"missing: {x if not x.exists() else y}")
        elif x.suffix == ".html":
            if SVG.sub("", x.read_text(encoding="utf-8")) != SVG.sub("", y.read_text(encoding="utf-8")):
                out.append(f"{x.name} differs beyond its figure")
        elif x.read_bytes() != y.read_bytes():
            out.append(f"{x.parent.name}/{x.name} differs")
    return out


# ---- incremental == full -----------------------------------------------------------------------------

@pytest.mark.parametrize("night", NIGHTS)
def test_every_blinded_output_file_equals_a_full_recomputation(study, night):
    assert study["nights"][night]["files"] == []


@pytest.mark.parametrize("night", NIGHTS)
def test_every_unblinded_output_file_equals_a_full_recomputation(study, night):
    """The unblinded packages (SDTM with EX and the arms, ADaM with the treatment variables), its
    stage-2 findings and their listings."""
    assert study["nights"][night]["unblinded_files"] == []


@pytest.mark.parametrize("night", NIGHTS)
def test_the_unblinded_reports_by_arm_equal_a_full_recomputation(study, night):
    assert study["nights"][night]["reports"] == []


@pytest.mark.parametrize("night", NIGHTS)
def test_the_harmonized_table_equals_a_full_recomputation(study, night):
    incremental, full = study["nights"][night]["incremental"], study["nights"][night]["full"]
    assert frame_differences(incremental["lab"], full["lab"]) == []
    assert frame_differences(incremental["stored_lab"], full["stored_lab"]) == []


@pytest.mark.parametrize("night", NIGHTS)
def test_the_schema_failures_and_the_trace_equal_a_full_recomputation(study, night):
    incremental, full = study["nights"][night]["incremental"], study["nights"][night]["full"]
    assert frame_differences(incremental["failures"], full["failures"]) == []
    assert len(incremental["trace"]) > 0
    pd.testing.assert_frame_equal(incremental["trace"], full["trace"])


@pytest.mark.parametrize("night", NIGHTS)
def test_the_recomputation_saved_a_harmonized_table_of_its_own(study, night):
    night = study["nights"][night]
    assert night["full"]["token"] != night["incremental"]["token"]


# ---- the blinded area tells no assignment ------------------------------------------------------------

NIGHT_NAMES = re.compile(r"2025-?07-?0[23]")        # nights 2 and 3, as dates and in transfer names


def _seen_as_text(output: Path) -> dict[str, list]:
    """The findings listing and every query listing's cells, each night's date and transfer name
    (the data cut, the night a finding was last seen, the transfer a record was last read from)
    written '<night>': no data date of the generated study falls in July 2025."""
    def text(value):
        return NIGHT_NAMES.sub("<night>", value) if isinstance(value, str) else value

    findings = pd.read_csv(output / "findings" / "findings.csv", dtype=str, keep_default_na=False)
    out = {"findings.csv": findings.sort_values("finding_id").map(text).to_numpy().tolist()}
    for path in sorted((output / "findings").glob("*.xlsx")):
        sheet = openpyxl.load_workbook(path).active
        out[path.name] = [[text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    return out


def test_night_3_changes_nothing_in_the_blinded_area_but_the_data_cut(study):
    """X's stage-2 randomization and infusions and Z's corrected stage-2 randomization are stage-2
    rows: the blinded packages and expectation results after night 3 are those of night 2 but for the
    data cut (TS, its Dataset-JSON); its findings and listings too, but for the data cut, the night
    each finding was last seen and the EDC transfer a record was last read from (a new snapshot
    restates every record: any EDC night does that)."""
    differences = study["nights"][NIGHTS[-1]]["blinded_since_night_2"]
    ts = re.compile(r"^blinded/m5/datasets/[^/]+/tabulations/sdtm/ts\.(xpt|json)\b")
    assert [d for d in differences if not (ts.search(d) or d.startswith(("findings", "findings/")))] == []
    before, after = (study["nights"][n]["incremental"]["packages"]["blinded"]["TS"] for n in NIGHTS[1:])
    changed = before.compare(after)
    assert set(before.loc[changed.index, "TSPARMCD"]) == {"DCUTDTC"}
    seen = [_seen_as_text(folder) for folder in (study["root"] / "output_before_night_3", study["settings"].output)]
    assert seen[0].keys() == seen[1].keys()
    assert [name for name in seen[0] if seen[0][name] != seen[1][name]] == []


def test_night_3_counts_nothing_a_blinded_reader_could_see(study):
    """The run report (read by blinded staff) counts IWRS and EDC rows, records in force and audit
    events without the stage-2 rows: night 3's new and corrected stage-2 rows change none of them."""
    reports = [study["nights"][n]["incremental"]["report"] for n in NIGHTS[1:]]
    rows = [{t["source"]: (t["rows_read"], t["rows_loaded"], t["rows_quarantined"]) for t in r["transfers"]
             if t["status"] == "loaded"} for r in reports]
    for source in ("iwrs", "edc"):
        assert rows[0][source] == rows[1][source], source
    assert reports[0]["store"] == reports[1]["store"]
    assert not reports[1]["tonight"]["changed_records"]
    assert reports[1]["tonight"]["new_findings"] == 0


# ---- each night did what its scenario says (else the comparisons above prove little) -------------------

def _of(frame: pd.DataFrame, subjid: str) -> pd.DataFrame:
    column = "subjid" if "subjid" in frame else "USUBJID"
    return frame[frame[column].str.endswith(subjid)] if column == "USUBJID" else frame[frame[column] == subjid]


def test_night_1_rebuilds_the_harmonized_rows_of_site03_and_site05_only(study):
    """The lab night was incremental: the other sites' rows are kept (their store ids), the rows of
    the two sites that sent are those of tonight's transfers. (SQLite numbers the rebuilt rows from
    the largest id left, site05's being the last: their ids may be those of the rows they replace.)"""
    nights = study["nights"]
    before, after = nights[FIRST]["incremental"], nights[NIGHTS[0]]["incremental"]
    sent = {path.split("/")[0] for path in nights[NIGHTS[0]]["delivered"]}
    assert sent == {"site03", "site05"}
    ids = [state["ids"] for state in (before, after)]
    assert set(ids[1]["source"]) == set(ids[0]["source"]) > sent
    assert set(ids[1].loc[~ids[1]["source"].isin(sent), "id"]) == set(ids[0].loc[~ids[0]["source"].isin(sent), "id"])
    transfers = [state["lab"].groupby("source")["transfer_id"].agg(set) for state in (before, after)]
    for source in transfers[0].index:
        assert (transfers[1][source] == transfers[0][source]) == (source not in sent), source


def test_night_1_site03_lost_changed_and_emptied_records(study):
    plan, night = study["plan"]["site03"], study["nights"][NIGHTS[0]]["incremental"]
    lab, vanished = night["lab"], night["vanished"]
    assert (lab["sample_id"] == plan["gone_sample"]).sum() == 0
    sample, value = plan["changed"]
    [result] = lab.loc[(lab["sample_id"] == sample) & (lab["test_raw"] == "TBIL"), "lborres"].tolist()
    assert float(result) == value
    assert lab.loc[lab["sample_id"] == plan["emptied"], "test_raw"].tolist().count("ALT") == 0
    keys = set(vanished.loc[vanished["source"] == "site03", "record_key"])
    assert f"03|{plan['emptied']}|ALT" in keys and sum(k.startswith(f"03|{plan['gone_sample']}|") for k in keys) >= 10


def test_night_1_converted_reference_limits_changed_with_the_sites_ranges(study):
    """Bilirubin limits come in umol/L and are converted to mg/dL (1/17.1, three decimals): site03's
    sheet 20.5 -> 22.2, site05's 19 -> 21. The harmonized table and ADLB's ANRHI follow, for every
    record of the two sites, in the incremental night as in the full one."""
    nights = study["nights"]
    for state, expected in ((nights[FIRST]["incremental"], {"03": 1.199, "05": 1.111}),
                            (nights[NIGHTS[0]]["incremental"], {"03": 1.298, "05": 1.228}),
                            (nights[NIGHTS[0]]["full"], {"03": 1.298, "05": 1.228})):
        lab = state["lab"]
        for site, limit in expected.items():
            rows = lab[(lab["site_id"] == site) & (lab["lbtestcd"] == "BILI")]
            assert len(rows) > 0 and set(rows["lbstnrhi"]) == {limit}, (site, set(rows["lbstnrhi"]))
        adlb = state["packages"]["blinded"]["ADLB"]
        for site, limit in expected.items():
            rows = adlb[(adlb["SITEID"] == site) & (adlb["PARAMCD"] == "BILI") & adlb["AVAL"].notna()]
            assert len(rows) > 0 and set(rows["ANRHI"].round(3)) == {limit}, (site, set(rows["ANRHI"]))


def test_a_reference_range_restated_in_another_unit_keeps_its_standard_limits(study):
    """Night 1's site03 sheet gives albumin's range as 4.0-5.5 g/dL instead of 40-55 g/L (the sheet's
    Unit column, which the dialect names: study/sources/site03.yaml reference_sheet.unit). The range is
    the same: the standard limits (g/L) must stay 40 and 55 (read as 4.0-5.5 g/L, every albumin result
    of the site turns HIGH in LB and ADLB). Not an incremental matter: the full recomputation is held
    to it as well."""
    nights = study["nights"]
    for state in (nights[FIRST]["incremental"], nights[NIGHTS[0]]["incremental"], nights[NIGHTS[0]]["full"]):
        albumin = state["lab"][(state["lab"]["site_id"] == "03") & (state["lab"]["lbtestcd"] == "ALB")]
        assert len(albumin) > 0
        assert (set(albumin["lbstnrlo"]), set(albumin["lbstnrhi"])) == ({40.0}, {55.0})


def test_night_1_site05_changed_lost_and_moved_records(study):
    plan, nights = study["plan"]["site05"], study["nights"]
    before, after = nights[FIRST]["incremental"]["lab"], nights[NIGHTS[0]]["incremental"]["lab"]
    sample, value = plan["doubled"]
    [result] = after.loc[(after["sample_id"] == sample) & (after["lbtestcd"] == "ALT"), "lbstresn"].tolist()
    assert result == value
    gone, _ = plan["gone"]
    assert len(after[(after["sample_id"] == gone) & (after["lbtestcd"] == "AST")]) == 0
    assert len(before[(before["sample_id"] == gone) & (before["lbtestcd"] == "AST")]) == 1
    moved, subject, day = plan["moved"]
    assert 12 <= day <= 16
    visits = [set(lab.loc[lab["sample_id"] == moved, "avisit"]) for lab in (before, after)]
    assert visits == [{"WEEK2"}, {"UNSCHEDULED"}]
    assert set(after.loc[after["sample_id"] == moved, "pday"]) == {18}


def test_night_2_edc_changes_reach_both_areas(study):
    plan, nights = study["plan"], study["nights"]
    assert {p.split("/")[0] for p in nights[NIGHTS[1]]["delivered"]} == {"edc", "iwrs"}
    before, after = (nights[n]["incremental"]["packages"] for n in (NIGHTS[0], NIGHTS[1]))
    for area in ("blinded", "unblinded"):
        b, a = before[area], after[area]
        consent = [_of(p["DM"], plan["consent"])["RFICDTC"].item() for p in (b, a)]
        assert consent[1] == _shift(consent[0], -1)
        withdrawn, last = plan["withdrawn"]
        assert _of(a["DS"], withdrawn)["DSDECOD"].eq("WITHDRAWAL BY SUBJECT").any()
        assert not _of(b["DS"], withdrawn)["DSDECOD"].eq("WITHDRAWAL BY SUBJECT").any()
        assert _of(a["ADSL"], withdrawn)["EOSSTT"].item() != _of(b["ADSL"], withdrawn)["EOSSTT"].item()
        rand = [_of(p["ADSL"], plan["y"])["RANDDT"].item() for p in (b, a)]
        assert (pd.Timestamp(rand[0]) - pd.Timestamp(rand[1])).days == 1
        for subject in (plan["moved_out"], plan["moved_in"]):       # the assessment's visit by window, its scores
            scores = [_of(p["ADSCORE"], subject).reset_index(drop=True) for p in (b, a)]
            assert frame_differences(*scores) != [], (area, subject)


def test_night_2_adverse_events_added_changed_and_removed(study):
    plan, nights = study["plan"]["ae"], study["nights"]
    before, after = (nights[n]["incremental"]["packages"]["blinded"]["AE"] for n in (NIGHTS[0], NIGHTS[1]))
    subject, spid, term = plan["changed"]
    grades = [_of(frame, subject).loc[lambda f: f["AEDECOD"] == term, "AETOXGR"].tolist() for frame in (before, after)]
    assert grades[0] != grades[1]
    subject, spid, term = plan["removed"]
    counts = [(_of(frame, subject)["AEDECOD"] == term).sum() for frame in (before, after)]
    assert counts[1] == counts[0] - 1
    subject, term = plan["added"]
    assert len(_of(before, subject)) == 0 and _of(after, subject)["AEDECOD"].tolist() == [term]


def test_night_3_the_unblinded_area_follows_the_randomization(study):
    """X goes from hUC-MSC only (MSC3) to the arm the key gives its stage-2 number, with its stage-2
    infusions in EX; Z's arm follows its corrected number; ADSL says who is re-randomized and when."""
    plan, nights = study["plan"], study["nights"]
    assert {p.split("/")[0] for p in nights[NIGHTS[2]]["delivered"]} == {"edc", "iwrs", "iwrs_key"}
    before, after = (nights[n]["incremental"]["packages"]["unblinded"] for n in (NIGHTS[1], NIGHTS[2]))
    x, z = plan["x"], plan["z"]
    stage1, stage2 = plan["treatment"][x]
    assert stage1 == "HUC-MSC" and stage2
    assert [_of(p["DM"], x)["ARMCD"].item() for p in (before, after)] == ["MSC3", ARMCD[(stage1, stage2)]]
    assert [_of(p["ADSL"], x)["RAND2FL"].item() for p in (before, after)] == ["N", "Y"]
    assert len(_of(after["EX"], x)) == len(_of(before["EX"], x)) + 2
    old, new = plan["z_treatment"]
    assert [_of(p["DM"], z)["ARMCD"].item() for p in (before, after)] == [ARMCD[("HUC-MSC", t)] for t in (old, new)]
    dates = [_of(p["ADSL"], z)["RAND2DT"].item() for p in (before, after)]
    assert (pd.Timestamp(dates[1]) - pd.Timestamp(dates[0])).days == 1
    for subject in (x, z):                       # nothing of the lab records depends on the assignment
        assert frame_differences(_of(before["ADLB"], subject).reset_index(drop=True),
                                  _of(after["ADLB"], subject).reset_index(drop=True)) == []


def test_night_3_the_blinded_records_of_x_and_z_are_those_of_night_2(study):
    plan, nights = study["plan"], study["nights"]
    before, after = (nights[n]["incremental"]["packages"]["blinded"] for n in (NIGHTS[1], NIGHTS[2]))
    for name in READ["blinded"]:
        if name == "TS":
            continue
        for subject in (plan["x"], plan["z"]):
            assert frame_differences(_of(before[name], subject).reset_index(drop=True),
                                      _of(after[name], subject).reset_index(drop=True)) == [], (name, subject)
