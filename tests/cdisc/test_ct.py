"""The pinned controlled terminology: the study's specs pass, a term the release lacks fails at load."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from aclf.config import DEFAULT_STUDY_DIR, ConfigError
from cdisc.ct import load_ct, subset
from cdisc.spec import load_spec

SHARED_CT = Path(__file__).resolve().parents[3] / "shared" / "ct" / "sdtm_terminology_2025q1.txt.xz"


@pytest.fixture()
def study(tmp_path):
    shutil.copytree(DEFAULT_STUDY_DIR, tmp_path / "study")
    return tmp_path / "study"


def edit_codelist(study: Path, cl_id: str, change) -> None:
    path = study / "sdtm" / "spec.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(next(c for c in raw["codelists"] if c["id"] == cl_id))
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")


def test_the_study_specs_pass_and_take_their_nci_codes_from_the_release():
    ct = load_ct()
    assert ct.release == "2025-03-28"
    for folder in ("sdtm", "adam"):
        spec = load_spec(DEFAULT_STUDY_DIR / folder)
        assert spec.ct_version == ct.release
        for cl in spec.codelists.values():
            if cl.nci:
                assert all(t.nci or t.extended for t in cl.terms), cl.id
    sdtm = load_spec()
    assert {t.value: t.nci for t in sdtm.codelists["CL.LBTESTCD"].terms}["UREAN"] == "C125949"
    assert {t.value: t.nci for t in sdtm.codelists["CL.ETHNIC"].terms} == {"NOT HISPANIC OR LATINO": "C41222"}


def test_an_unknown_term_fails_at_load(study):
    edit_codelist(study, "CL.ETHNIC", lambda c: c["terms"].append({"value": "HAN"}))
    with pytest.raises(ConfigError, match=r"CL.ETHNIC: term 'HAN' is not in codelist C66790"):
        load_spec(study / "sdtm")


def test_an_extension_must_be_declared_and_allowed(study):
    edit_codelist(study, "CL.LBTESTCD", lambda c: c["terms"].append({"value": "BUN"}))
    with pytest.raises(ConfigError, match="'BUN' is not in codelist C65047 .* not declared an extension"):
        load_spec(study / "sdtm")


def test_a_cdisc_term_declared_an_extension_fails(study):
    edit_codelist(study, "CL.LBTESTCD", lambda c: c["terms"].__setitem__(
        0, {**c["terms"][0], "extended": True}))
    with pytest.raises(ConfigError, match="'ALB' is declared an extension but is C64431"):
        load_spec(study / "sdtm")


def test_an_extension_of_a_non_extensible_codelist_fails(study):
    edit_codelist(study, "CL.SEX", lambda c: c.update(extensible=True, terms=[*c["terms"], {"value": "X", "extended": True}]))
    with pytest.raises(ConfigError, match="CL.SEX: extensible is True but False"):
        load_spec(study / "sdtm")


def test_a_spec_of_another_release_fails(study):
    path = study / "sdtm" / "spec.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('ct_version: "2025-03-28"', 'ct_version: "2024-09-27"'),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="ct_version 2024-09-27 but the pinned release is 2025-03-28"):
        load_spec(study / "sdtm")


@pytest.mark.skipif(not SHARED_CT.is_file(), reason="CDISC's full terminology file is not on this machine")
def test_the_shipped_subset_is_what_the_release_says():
    specs = [load_spec(DEFAULT_STUDY_DIR / d, check_ct=False) for d in ("sdtm", "adam")]
    shipped = yaml.safe_load((DEFAULT_STUDY_DIR / "ct" / "sdtm_ct.yaml").read_text(encoding="utf-8"))
    assert shipped["codelists"] == subset(SHARED_CT, specs)


def test_data_values_outside_their_codelist_are_violations():
    """CT2001 on the data: a sponsor value in the non-extensible ETHNIC codelist; DSDECOD checked
    against the codelist of its row's DSCAT; empty values pass."""
    import pandas as pd

    from cdisc.codelist_check import codelist_values
    spec = load_spec(DEFAULT_STUDY_DIR / "sdtm")
    dm = pd.DataFrame({"ETHNIC": ["HAN", "NOT HISPANIC OR LATINO", ""], "SEX": ["M", "F", "M"]})
    found = codelist_values(dm, spec.datasets["DM"], spec)
    assert [(v.variable, v.rule) for v in found] == [("ETHNIC", "codelist_value")]
    assert "CT2001, non-extensible" in found[0].message and "'HAN'" in found[0].message
    # a patient's name typed as SEX reaches DM; the check refuses the package without naming it
    found = codelist_values(pd.DataFrame({"SEX": ["M", "Wang Fang"]}), spec.datasets["DM"], spec)
    assert "Wang Fang" not in found[0].message and "(not shown: it has the form of a name" in found[0].message
    ds = pd.DataFrame({"DSCAT": ["PROTOCOL MILESTONE", "DISPOSITION EVENT", "DISPOSITION EVENT"],
                       "DSDECOD": ["RANDOMIZED", "RANDOMIZED", "COMPLETED"]})
    found = codelist_values(ds, spec.datasets["DS"], spec)
    assert len(found) == 1 and "where DSCAT = DISPOSITION EVENT" in found[0].message


def test_every_value_a_form_allows_is_a_term_of_the_codelist_its_sdtm_variable_has():
    """The EDC names AE and DM columns as SDTM does: what a form allows is what the codelist has, so a
    value the form lets through never refuses the package (the two lists cannot drift apart)."""
    from aclf.config import load_study
    from cdisc.design import load_design

    spec = load_spec(DEFAULT_STUDY_DIR / "sdtm")
    codelists = {v.name: spec.codelists[v.codelist] for ds in spec.datasets.values() for v in ds.variables
                 if v.codelist and spec.codelists[v.codelist].terms}
    checked = []
    for name, form in load_study().forms.items():
        for column, allowed in form.values.items():
            if column == "ETHNIC":           # mapped to its codelist (trial_design.yaml ethnic)
                assert set(allowed) <= set(load_design().ethnic)
                checked.append(column)
            elif column in codelists:
                terms = {t.value for t in codelists[column].terms}
                assert set(allowed) <= terms, (name, column, sorted(set(allowed) - terms))
                checked.append(column)
    assert {"SEX", "RACE", "ETHNIC", "AESER", "AEREL", "AEOUT", "AEACN", "AETOXGR"} <= set(checked)


@pytest.mark.skipif(not SHARED_CT.is_file(), reason="CDISC's full terminology file is not on this machine")
def test_the_west_haven_grade_takes_cdiscs_classification_codes_and_results():
    """RS's encephalopathy grade is CDISC's West Haven classification: its test code (WHEG01TC), test
    name (WHEG01TN), category (CCCAT) and the results HEPENCGR names for the collected 0-4."""
    import lzma

    import pandas as pd

    from cdisc.design import load_design

    full = pd.read_csv(lzma.open(SHARED_CT), sep="\t", dtype=str, keep_default_na=False)

    def terms(codelist: str) -> set[str]:
        return set(full.loc[full["Codelist Code"] == codelist, "CDISC Submission Value"])
    [grade] = [a for a in load_design().assessments if a.column == "HE_GRADE"]
    assert grade.testcd in terms("C124680") and grade.test in terms("C124679") and grade.cat in terms("C118971")
    assert set(grade.results.values()) == terms("C117746") and sorted(grade.results) == ["0", "1", "2", "3", "4"]
