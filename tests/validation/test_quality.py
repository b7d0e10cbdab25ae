"""Great Expectations quality gate: clean data passes, each kind of fault fails the right expectation."""
import re

import lxml.html
import numpy as np
import pandas as pd
import pytest

from validation.quality import LAB_COLUMNS, run_quality

TESTS = {
    "BILI": {"unit": "mg/dL", "low": 0.0, "high": 60.0},
    "ALB": {"unit": "g/L", "low": 5.0, "high": 70.0},
    "CREAT": {"unit": "mg/dL", "low": 0.1, "high": 20.0},
    "INR": {"unit": "", "low": 0.5, "high": 15.0},
    "SODIUM": {"unit": "mmol/L", "low": 100.0, "high": 180.0},
    "PLAT": {"unit": "10^9/L", "low": 1.0, "high": 1500.0},
}
FORM_RULES = {
    "enrollment": {"key": ["SUBJID"], "subject": "SUBJID",
                   "values": {"SEX": ["M", "F"], "ELIGIBLE": ["Y", "N"]}, "ranges": {}},
    "clinical_assessment": {"key": ["SUBJID", "VISIT"], "subject": "SUBJID",
                            "values": {"AKI": ["Y", "N"]}, "ranges": {"HE_GRADE": [0, 4]}},
    "adverse_events": {"key": ["SUBJID", "AESPID"], "subject": "SUBJID",
                       "values": {"AESER": ["Y", "N"]}, "ranges": {"AETOXGR": [1, 5]}},
}
SUITES = ["harmonized_lab", "edc_enrollment", "edc_clinical_assessment", "edc_adverse_events"]


def lab_row(subjid, code, value, *, unit=None, date="2024-03-05", stat=""):
    unit = TESTS[code]["unit"] if unit is None else unit
    return {"subjid": subjid, "site_id": subjid[:2], "lbtestcd": code, "lbdtc": date, "lbstresu": unit,
            "lbstat": stat, "lbreasnd": "HEMOLYZED" if stat else "", "lborres": "" if stat else str(value),
            "lbstresn": np.nan if stat else value}


def clean_lab():
    rows = [
        lab_row("01-001", "BILI", 12.4, date="2024-03-05T08:30"),
        lab_row("01-001", "ALB", 31.0),
        lab_row("01-001", "INR", 1.8),
        lab_row("01-001", "CREAT", np.nan),  # a censored result: no number, still plausible
        lab_row("02-1001", "SODIUM", 134.0),
        lab_row("02-1001", "PLAT", 88.0),
        lab_row("02-1001", "BILI", np.nan, unit="", stat="NOT DONE"),
    ]
    return pd.DataFrame(rows, columns=list(LAB_COLUMNS))


def clean_forms():
    return {
        "enrollment": pd.DataFrame({"SUBJID": ["01-001", "02-1001"], "SEX": ["M", ""], "ELIGIBLE": ["Y", "Y"]}),
        "clinical_assessment": pd.DataFrame({"SUBJID": ["01-001", "01-001", "02-1001"],
                                             "VISIT": ["WEEK-1", "WEEK0", "WEEK0"],
                                             "HE_GRADE": ["0", "4", ""], "AKI": ["N", "", "Y"]}),
        "adverse_events": pd.DataFrame({"SUBJID": ["01-001", "01-001"], "AESPID": ["1", "2"],
                                        "AESER": ["N", "Y"], "AETOXGR": ["1", "3"]}),
    }


def run(tmp_path, lab=None, forms=None):
    lab = clean_lab() if lab is None else lab
    forms = clean_forms() if forms is None else forms
    return run_quality(lab, forms, tmp_path / "quality", tests=TESTS, form_rules=FORM_RULES)


def test_clean_data_passes_and_renders_data_docs_quietly(tmp_path, capfd):
    result = run(tmp_path)

    assert capfd.readouterr() == ("", "")  # no progress bars, no prints
    assert result.failed == []
    assert result.success is True
    assert result.evaluated > 10
    assert result.data_docs == tmp_path / "quality" / "index.html"
    html = result.data_docs.read_text(encoding="utf-8")
    for suite in SUITES:
        assert suite in html
        assert (tmp_path / "quality" / "expectations" / f"{suite}.html").is_file()


def set_lab(row, column, value):
    def change(lab, forms):
        lab.loc[row, column] = value
    return change


def set_form(form, row, column, value):
    def change(lab, forms):
        forms[form].loc[row, column] = value
    return change


FAULTS = {
    "implausible BILI": (set_lab(0, "lbstresn", 500.0), "harmonized_lab", "lbstresn",
                         "expect_column_values_to_be_between", ["BILI", "500"]),
    "wrong unit": (set_lab(1, "lbstresu", "g/dL"), "harmonized_lab", "lbstresu",
                   "expect_column_values_to_be_in_set", ["ALB", "'g/dL'"]),
    "unknown test": (set_lab(2, "lbtestcd", "GGT"), "harmonized_lab", "lbtestcd",
                     "expect_column_values_to_be_in_set", ["'GGT'"]),
    "bad SUBJID": (set_lab(4, "subjid", "2-1001"), "harmonized_lab", "subjid",
                   "expect_column_values_to_match_regex", ["'2-1001'"]),
    "bad date": (set_lab(0, "lbdtc", "05/03/2024"), "harmonized_lab", "lbdtc",
                 "expect_column_values_to_match_regex", ["'05/03/2024'"]),
    "bad status": (set_lab(0, "lbstat", "DONE"), "harmonized_lab", "lbstat",
                   "expect_column_values_to_be_in_set", ["'DONE'"]),
    "duplicate enrollment": (set_form("enrollment", 1, "SUBJID", "01-001"), "edc_enrollment", "SUBJID",
                             "expect_column_values_to_be_unique", ["2 of 2", "'01-001'"]),
    "duplicate AE key": (set_form("adverse_events", 1, "AESPID", "1"), "edc_adverse_events", "SUBJID, AESPID",
                         "expect_compound_columns_to_be_unique", ["'AESPID': '1'"]),
    "HE grade 5": (set_form("clinical_assessment", 1, "HE_GRADE", "5"), "edc_clinical_assessment", "HE_GRADE",
                   "expect_column_values_to_be_between", ["1 of 3", "5.0"]),
    "HE grade not a number": (set_form("clinical_assessment", 0, "HE_GRADE", "II"), "edc_clinical_assessment",
                              "HE_GRADE (text)", "expect_column_values_to_match_regex", ["'II'"]),
    "coded value": (set_form("enrollment", 0, "SEX", "male"), "edc_enrollment", "SEX",
                    "expect_column_values_to_be_in_set", ["'male'"]),
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_each_fault_fails_exactly_the_right_expectation(tmp_path, fault):
    change, suite, column, expectation, shown = fault
    lab, forms = clean_lab(), clean_forms()
    change(lab, forms)

    result = run(tmp_path, lab, forms)

    assert result.success is False
    [failure] = result.failed
    assert (failure["suite"], failure["column"], failure["expectation"]) == (suite, column, expectation)
    for text in shown:
        assert text in failure["detail"]
    assert result.data_docs.is_file()


def test_missing_lab_column_is_named(tmp_path):
    result = run(tmp_path, clean_lab().drop(columns=["lbreasnd"]))

    assert result.success is False
    assert [(f["expectation"], f["column"]) for f in result.failed] == [("expect_column_to_exist", "lbreasnd")]
    assert "missing" in result.failed[0]["detail"]


def test_rule_on_a_column_the_form_lacks_is_a_failure_not_an_error(tmp_path):
    rules = {**FORM_RULES, "enrollment": {**FORM_RULES["enrollment"], "values": {"RACE": ["ASIAN"]}}}

    result = run_quality(clean_lab(), clean_forms(), tmp_path, tests=TESTS, form_rules=rules)

    [failure] = result.failed
    assert (failure["suite"], failure["column"]) == ("edc_enrollment", "RACE")
    assert "could not be evaluated" in failure["detail"] and "RACE" in failure["detail"]


@pytest.mark.parametrize("empty", [
    pd.DataFrame({c: pd.Series(dtype="float64" if c == "lbstresn" else "str") for c in LAB_COLUMNS}),
    pd.DataFrame(columns=list(LAB_COLUMNS)),
], ids=["typed", "untyped"])
def test_empty_lab_frame_passes(tmp_path, empty):
    result = run(tmp_path, empty)

    assert result.failed == []
    assert result.success is True
    assert result.data_docs.is_file()


def test_rerun_into_the_same_directory_replaces_the_pages(tmp_path):
    run(tmp_path)
    lab = clean_lab()
    lab.loc[0, "lbstresn"] = 500.0
    second = run(tmp_path, lab)

    pages = sorted((tmp_path / "quality" / "validations").rglob("*.html"))
    assert len(pages) == len(SUITES)
    assert second.success is False
    assert "Failed" in second.data_docs.read_text(encoding="utf-8")


def big_lab(rows):
    rng = np.random.default_rng(7)
    codes = rng.choice(list(TESTS), rows)
    frame = pd.DataFrame({
        "subjid": [f"{i % 9 + 1:02d}-{i % 997 + 1:03d}" for i in range(rows)],
        "lbtestcd": codes,
        "lbdtc": "2024-03-05T08:30",
        "lbstresu": [TESTS[c]["unit"] for c in codes],
        "lbstat": "", "lbreasnd": "",
        "lbstresn": [TESTS[c]["low"] for c in codes] + rng.uniform(0, 1, rows),
    })
    frame["site_id"] = frame["subjid"].str[:2]
    frame["lborres"] = frame["lbstresn"].astype(str)
    return frame[list(LAB_COLUMNS)]


@pytest.mark.slow
def test_200k_lab_rows_find_the_one_implausible_value(tmp_path):
    lab = big_lab(200_000)
    lab.loc[123_456, "lbstresn"] = 1e6

    result = run(tmp_path, lab)

    assert [f["column"] for f in result.failed] == ["lbstresn"]
    assert "1000000.0" in result.failed[0]["detail"]


def test_the_data_docs_front_page_reads_offline_and_links_each_validation_result(tmp_path):
    lab = clean_lab()
    lab.loc[0, "lbstresn"] = 500.0
    result = run(tmp_path, lab)
    page = lxml.html.parse(str(result.data_docs)).getroot()
    assert not page.xpath("//script | //link[@rel='stylesheet']")          # nothing fetched from a network
    links = page.xpath("//a[.='validation result']/@href")
    assert len(links) == len(SUITES)
    for link in links:
        assert (result.data_docs.parent / link).is_file() and not link.startswith(("/", "http"))
    assert "harmonized_lab" in page.xpath("string(//h2[.='Failed expectations']/following-sibling::table[1])")
    assert (result.data_docs.parent / "gx_index.html").is_file()


def test_no_validated_frame_outlives_the_run(tmp_path):
    """Great Expectations keeps its last context, and every frame it validated with it, in reference
    cycles: run_quality lets it go, so the lab columns are not resident through SDTM and ADaM."""
    import gc

    lab = clean_lab()
    lab.attrs["probe"] = True        # pandas carries attrs to the frames made from this one
    run(tmp_path, lab=lab)
    gc.collect()
    left = [o for o in gc.get_objects() if isinstance(o, pd.DataFrame) and o.attrs.get("probe") and o is not lab]
    assert left == []


def page_text(path):
    return re.sub(r"\d{4}-?\d{2}-?\d{2}T\d{2}:?\d{2}:?\d{2}(\.\d+)?Z", "", lxml.html.parse(str(path)).getroot().text_content())


def test_a_suite_whose_frame_did_not_change_is_not_run_again(tmp_path, monkeypatch):
    """Kept results: a second night runs only the suite whose frame changed, keeps the other suites'
    pages as their run drew them, and reports what a night without kept results reports; another
    code version runs every suite again."""
    import validation.quality as quality

    kept, ran, validate = tmp_path / "kept", [], quality.validate

    def counted(context, source, frame, suite, run_id):
        ran.append(suite.name)
        return validate(context, source, frame, suite, run_id)

    def night(folder, forms, **reuse):
        return run_quality(clean_lab(), forms, tmp_path / folder, tests=TESTS, form_rules=FORM_RULES, **reuse)

    night("docs", clean_forms(), kept=kept, version="v1")
    pages = {suite: next((tmp_path / "docs" / "validations" / suite).rglob("*.html")) for suite in SUITES}
    before = {suite: page.read_bytes() for suite, page in pages.items()}
    forms = clean_forms()
    forms["adverse_events"].loc[1, "AETOXGR"] = "7"                # out of range
    monkeypatch.setattr(quality, "validate", counted)
    second = night("docs", forms, kept=kept, version="v1")
    assert ran == ["edc_adverse_events"]

    fresh = night("fresh", forms)
    assert (second.success, second.evaluated, second.failed) == (fresh.success, fresh.evaluated, fresh.failed)
    assert [f["suite"] for f in second.failed] == ["edc_adverse_events"]
    for suite in SUITES:                # every suite's pages as a run makes them, apart from the run's time
        assert (tmp_path / "docs" / "expectations" / f"{suite}.html").is_file()
        [page] = (tmp_path / "docs" / "validations" / suite).rglob("*.html")
        [again] = (tmp_path / "fresh" / "validations" / suite).rglob("*.html")
        assert page_text(page) == page_text(again)
        if suite != "edc_adverse_events":                # a reused suite's page is the one its run drew
            assert page == pages[suite] and page.read_bytes() == before[suite]
    links = lxml.html.parse(str(second.data_docs)).getroot().xpath("//a[.='validation result']/@href")
    assert sorted(links) == sorted(p.relative_to(tmp_path / "docs").as_posix()
                                   for p in (tmp_path / "docs" / "validations").rglob("*.html"))

    ran.clear()                         # nothing changed: no suite runs, no page is drawn again
    drawn = {p: p.stat().st_mtime_ns for p in (tmp_path / "docs").glob("*/**/*.html")}
    third = night("docs", forms, kept=kept, version="v1")
    assert ran == [] and (third.success, third.evaluated, third.failed) == (second.success, second.evaluated,
                                                                              second.failed)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "docs").glob("*/**/*.html")} == drawn
    assert all(suite in third.data_docs.read_text(encoding="utf-8") for suite in SUITES)

    night("fourth", forms, kept=kept, version="v2")
    assert sorted(ran) == sorted(SUITES)


def test_the_lab_tables_parquet_copy_is_validated_as_the_table_itself(tmp_path, monkeypatch):
    """Given the Parquet copy (as the warm worker is), the suite reads the same frame: the result
    kept from the table is reused, and the report is the table's."""
    import validation.quality as quality

    lab = clean_lab().assign(lbstresn=lambda f: f["lbstresn"].where(f["lbtestcd"] != "ALB", 99.0),
                             extra="not read")                          # a failure, and a column no suite reads
    copy = tmp_path / "lab.parquet"
    lab.to_parquet(copy, index=False)
    kept, ran, validate = tmp_path / "kept", [], quality.validate
    first = run_quality(lab, clean_forms(), tmp_path / "docs", tests=TESTS, form_rules=FORM_RULES, kept=kept,
                        version="v1")
    monkeypatch.setattr(quality, "validate", lambda context, source, frame, suite, run_id:
                        ran.append(suite.name) or validate(context, source, frame, suite, run_id))
    second = run_quality(copy, clean_forms(), tmp_path / "docs", tests=TESTS, form_rules=FORM_RULES, kept=kept,
                         version="v1")
    assert ran == []
    fresh = run_quality(copy, clean_forms(), tmp_path / "fresh", tests=TESTS, form_rules=FORM_RULES)
    assert [f["expectation"] for f in first.failed] == ["expect_column_values_to_be_between"]
    assert (second.success, second.evaluated, second.failed) == (first.success, first.evaluated, first.failed) \
        == (fresh.success, fresh.evaluated, fresh.failed)


def _results(folder):
    """The kept lab suite's expectation results, without the ids GX draws at random for each run."""
    import json

    kept = json.loads((folder / "harmonized_lab.json").read_text(encoding="utf-8"))
    result = kept["result"] if isinstance(kept["result"], dict) else json.loads(kept["result"])
    return re.sub(r'"id": "[0-9a-f-]{36}"', '"id": "-"', json.dumps(result["results"], sort_keys=True))


def test_each_row_condition_filters_the_lab_table_once_with_the_results_of_gx_own_engine(tmp_path, monkeypatch):
    """GX filters the batch again for every metric of a per-test expectation; ``FilteredOnce`` keeps
    each condition's rows: as many filters as distinct conditions (two per test), the same results."""
    from great_expectations.execution_engine import PandasExecutionEngine

    import validation.quality as quality

    lab = clean_lab()
    lab.loc[1, "lbstresu"] = "mg/dL"               # ALB in the wrong unit
    lab.loc[4, "lbstresn"] = 999.0                 # SODIUM out of range
    filters = []
    real = PandasExecutionEngine._apply_row_condition_filter
    monkeypatch.setattr(PandasExecutionEngine, "_apply_row_condition_filter",
                        lambda self, data, *a: filters.append(len(data)) or real(self, data, *a))
    once = run_quality(lab, {}, None, tests=TESTS, form_rules={}, kept=tmp_path / "once", version="v")
    assert once is None and len(filters) == 2 * len(TESTS)
    monkeypatch.setattr(quality, "FilteredOnce", PandasExecutionEngine)      # GX's engine as it is
    filters.clear()
    run_quality(lab, {}, None, tests=TESTS, form_rules={}, kept=tmp_path / "each", version="v")
    assert len(filters) > 4 * len(TESTS)
    assert _results(tmp_path / "once") == _results(tmp_path / "each")
    assert '"success": false' in _results(tmp_path / "once")


def test_a_personal_value_in_a_form_is_neither_in_the_finding_nor_in_data_docs(tmp_path):
    """A patient's name typed as SEX fails its value set: the failure says so without the name, and
    no Data Docs page (drawn from the stored result) holds it."""
    lab, forms = clean_lab(), clean_forms()
    set_form("enrollment", 0, "SEX", "Wang Fang")(lab, forms)
    result = run(tmp_path, lab, forms)
    [failure] = result.failed
    assert failure["column"] == "SEX" and "(not shown: it has the form of a name or an identifier)" in failure["detail"]
    pages = [p.read_text(encoding="utf-8") for p in (tmp_path / "quality").rglob("*") if p.is_file()
             and p.suffix in {".html", ".json"}]
    assert len(pages) > 3 and not [p for p in pages if "Wang Fang" in p]
