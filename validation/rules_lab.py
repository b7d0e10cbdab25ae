"""Findings on harmonized lab records: units, result texts, plausibility, visits against dates."""
from __future__ import annotations

import pandas as pd

from aclf.disclosure import quoted
from validation.findings import combine, make_findings
from validation.inputs import RuleInputs
from validation.schemas import implausible


def _rows(inp: RuleInputs, lab: pd.DataFrame) -> pd.DataFrame:
    """Lab records with the columns a finding names (test as the site wrote it, file of the record)."""
    return lab.assign(test=lab["test_raw"], file=inp.file_of(lab["transfer_id"]))


def units(inp: RuleInputs) -> pd.DataFrame:
    """One finding per site, test and unspelled or unconvertible unit (with how many results)."""
    lab = inp.lab
    parts = []
    for rule, status, why in [
        ("unknown_unit", "unknown_unit", "is not a unit spelling the study knows"),
        ("unit_not_convertible", "not_agreed", "is not one the transfer specification lists for this test at this "
                                               "site, so it is not converted"),
        ("unit_not_convertible", "no_conversion", "has no conversion to the protocol unit of this test"),
    ]:
        bad = lab[lab["unit_status"] == status]
        if bad.empty:
            continue
        group = bad.groupby(["site_id", "source", "test_raw", "lborresu"], sort=True)
        first = group.head(1).set_index(["site_id", "source", "test_raw", "lborresu"])
        counts = group.size()
        rows = _rows(inp, first.reset_index())
        key = rows["site_id"] + "|" + rows["test_raw"] + "|" + rows["lborresu"]
        message = ("Unit " + quoted(rows["lborresu"]) + " of test '" + rows["test_raw"] + "' " + why + " ("
                   + counts.to_numpy().astype(str) + " results, first in sample " + rows["sample_id"]
                   + "). Please confirm the unit.")
        parts.append(make_findings(rule, rows.assign(row_number=None), key, message, inp.study))
    return combine(parts)


def result_texts(inp: RuleInputs) -> pd.DataFrame:
    lab = inp.lab[inp.lab["result_kind"] == "unknown_text"]
    rows = _rows(inp, lab)
    message = ("Result " + quoted(lab["lborres"]) + " of test '" + lab["test_raw"] + "' on sample " + lab["sample_id"]
               + " is neither a number nor a known reason for no result. Please correct or explain.")
    return make_findings("unknown_result_text", rows, lab["record_key"], message, inp.study)


def plausibility(inp: RuleInputs) -> pd.DataFrame:
    tests = inp.study.lab.tests
    bad = inp.lab[implausible(inp.lab, inp.study)]
    bounds = bad["lbtestcd"].map({k: f"{t.plausible[0]:g}-{t.plausible[1]:g}" for k, t in tests.items()})
    message = ("Test '" + bad["test_raw"] + "' on sample " + bad["sample_id"] + ": " + quoted(bad["lborres"], marks="") + " "
               + bad["lborresu"] + " (" + quoted(bad["lbstresc"], marks="") + " " + bad["lbstresu"] + ") is outside the plausible "
               + bounds + " " + bad["lbstresu"] + ". Please check the value and its unit.")
    return make_findings("implausible_value", _rows(inp, bad), bad["record_key"], message, inp.study)


def visits(inp: RuleInputs) -> pd.DataFrame:
    """Per sample: labelled with a visit the site's configuration does not know (or none), or with
    one scheduled visit but dated in another's window, or in none."""
    study = inp.study
    windows = {v.code: v.window for v in study.visits}
    lab = inp.lab
    unknown = lab[lab["visit"] == ""]
    unknown = unknown[~unknown.duplicated(["source", "sample_id"])]
    raw = unknown["visit_raw"]
    said = ("labelled " + quoted(raw) + ", a visit the site's configuration does not know").mask(
        raw == "", "without a visit label")
    kept = ("Sample " + unknown["sample_id"] + " was sent " + said + "; it is analysed by its date ("
            + unknown["avisit"].where(unknown["avisit"] != "", "no date") + "). Please confirm the visit.")
    unknown_findings = make_findings("visit_unknown", _rows(inp, unknown).assign(test="", row_number=unknown["row_number"]),
                                     unknown["source"] + "|" + unknown["sample_id"], kept, study)
    dated = (lab["visit"] != "") & (lab["visit"] != study.unscheduled_visit) & lab["pday"].notna()
    # the first record of each sample found on four columns, and only the few that disagree taken
    # whole: a mask over every column of the table cost more than the rule
    samples = lab.loc[dated, ["source", "sample_id", "visit", "avisit"]]
    samples = samples[~samples.duplicated(["source", "sample_id"])]
    disagree = lab.loc[samples.index[samples["avisit"] != samples["visit"]]]
    rows = _rows(inp, disagree).assign(test="", row_number=disagree["row_number"])
    day = disagree["pday"].astype(int).astype(str)
    label_window = disagree["visit"].map(lambda v: f"days {windows[v][0]} to {windows[v][1]}")
    when = ("Sample " + disagree["sample_id"] + " labelled '" + disagree["visit_raw"] + "' was drawn on "
            + disagree["lbdtc"].str[:10] + " (protocol day " + day + "), ")
    mislabelled = disagree["avisit"] != study.unscheduled_visit
    in_window = disagree["avisit"].map(lambda v: f"{v} window (days {windows[v][0]} to {windows[v][1]})"
                                       if v in windows else "")
    key = disagree["source"] + "|" + disagree["sample_id"]
    return combine([
        unknown_findings,
        make_findings("visit_mislabelled", rows[mislabelled], key[mislabelled],
                      (when + "in the " + in_window + ", not the " + disagree["visit"] + " window ("
                       + label_window + "). Please confirm the visit.")[mislabelled], study),
        make_findings("visit_out_of_window", rows[~mislabelled], key[~mislabelled],
                      (when + "outside every visit window (" + disagree["visit"] + " is " + label_window
                       + "). It is analysed as unscheduled.")[~mislabelled], study),
    ])
