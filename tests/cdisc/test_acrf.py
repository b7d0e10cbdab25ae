"""The annotated CRF: its configuration held to the forms and the SDTM spec, the PDF read back with
pypdf, define.xml's collected origins pointing to its pages, and the package carrying it."""
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree
from pypdf import PdfReader

from aclf.config import ConfigError, load_study
from cdisc import acrf, define
from cdisc.define import ACRF_FILE, ACRF_LEAF, build_define, validate_define, write_define
from cdisc.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
NS = {"odm": define.ODM_NS, "def": define.DEF_NS, "xlink": define.XLINK_NS}
NAMED = re.compile(r"\b([A-Z][A-Z0-9]{1,7})\.([A-Z][A-Z0-9]{0,7})\b")


@pytest.fixture(scope="module")
def study():
    return load_study()


@pytest.fixture(scope="module")
def config(study):
    return acrf.load_acrf(study)


@pytest.fixture(scope="module")
def pdf(config, study):
    return PdfReader(io.BytesIO(acrf.render_acrf(config, study, "NCT05985863")))


def test_every_form_is_annotated_and_a_field_missing_or_out_of_order_is_a_configuration_error(config, study,
                                                                                               tmp_path):
    assert set(config.forms) == set(study.forms) and all(notes for page in config.forms.values()
                                                         for notes in page.fields.values())
    text = (acrf.DEFAULT_STUDY_DIR / "sdtm" / "acrf.yaml").read_text(encoding="utf-8")
    for broken in (text.replace("      RACE: [DM.RACE]\n", ""),
                   text.replace("      SEX: [DM.SEX]\n", "").replace("      RACE: [DM.RACE]\n",
                                                                       "      RACE: [DM.RACE]\n      SEX: [DM.SEX]\n")):
        (tmp_path / "acrf.yaml").write_text(broken, encoding="utf-8")
        with pytest.raises(ConfigError, match="enrollment"):
            acrf.load_acrf(study, tmp_path / "acrf.yaml")


def test_every_variable_named_exists_and_every_collected_one_is_on_a_page(config):
    """Named variables exist in the SDTM spec (both areas); one named as holding a field's value is
    collected or assigned (a derived one is 'derives'); every variable the EDC or IWRS collects
    (origin Collected by the investigator: not the laboratories' LB) is on a page."""
    spec = load_spec()
    named = {m.groups() for page in config.forms.values() for notes in page.fields.values()
             for text in notes for m in NAMED.finditer(text)}
    unknown = sorted(f"{d}.{v}" for d, v in named if d in spec.datasets and v not in spec.datasets[d].variable
                     or d not in spec.datasets and d != "EVENT")
    assert not unknown
    pages = acrf.pages(config)
    held = {name: spec.datasets[name.split(".")[0]].variable[name.split(".")[1]].origin for name in pages}
    assert {name: origin for name, origin in held.items() if origin not in ("Collected", "Assigned")} == {}
    collected = {f"{ds.name}.{var.name}" for ds in spec.datasets.values() for var in ds.variables
                 if var.origin == "Collected" and define._origin_source(ds, var) == "Investigator"}
    assert collected and not sorted(collected - set(pages))


def test_the_pdf_reads_back_one_page_per_form_with_its_fields_annotations_and_bookmarks(config, study, pdf):
    assert len(pdf.pages) == len(config.forms) + 1
    cover = " ".join(pdf.pages[0].extract_text().split())
    for name, number in acrf.page_of_form(config).items():
        assert f"page {number}" in cover and config.forms[name].title in cover
        text = " ".join(pdf.pages[number - 1].extract_text().split())
        assert config.forms[name].title in text and f"page {number} of {len(pdf.pages)}" in text
        for field, notes in config.forms[name].fields.items():
            assert field in text
            for note in notes:
                for dataset, variable in NAMED.findall(note):
                    assert f"{dataset}.{variable}" in text, (name, field, note)
    assert pdf.metadata.title == "NCT05985863 annotated case report forms (SDTM)"
    forms, by_form, visits, by_visit, datasets, by_dataset = pdf.outline
    assert (forms.title, visits.title, datasets.title) == ("Forms", "Visits", "Datasets")
    assert [(b.title, pdf.get_destination_page_number(b) + 1) for b in by_form] == \
        [(config.forms[name].title, number) for name, number in acrf.page_of_form(config).items()]
    at = {b.title: pdf.get_destination_page_number(b) + 1 for b in by_dataset}
    assert at["DM"] == 2 and at["AE"] == 6 and at["MH"] == 3 and "LB" not in at


def test_the_visit_bookmarks_follow_the_schedule_with_each_visits_forms(config, study, pdf):
    """By visit, in the schedule's order: each visit's forms (a form's visit column's values, or the
    configuration's visits), the unscheduled visit, then the log forms; each pointing to its page."""
    _, _, _, by_visit, _, _ = pdf.outline
    visits = [b for b in by_visit if not isinstance(b, list)]
    labels = [b.title for b in visits]
    forms = [[(b.title, pdf.get_destination_page_number(b) + 1) for b in group]
             for group in by_visit if isinstance(group, list)]
    assert labels == [v.label for v in study.visits] + ["UNSCHEDULED", "ANY TIME (LOG FORMS)"]
    page, title = acrf.page_of_form(config), {name: page.title for name, page in config.forms.items()}
    named = {label: [t for t, _ in group] for label, group in zip(labels, forms)}
    assert named["WEEK -1 (SCREENING)"] == [title[f] for f in ("enrollment", "medical_history",
                                                               "clinical_assessment", "visits")]
    assert named["WEEK 0"] == [title[f] for f in ("clinical_assessment", "infusion", "visits", "randomization")]
    assert named["WEEK 4"] == named["WEEK 0"] and named["WEEK 3"] == [title["clinical_assessment"], title["visits"]]
    assert named["UNSCHEDULED"] == named["WEEK 3"]
    assert named["ANY TIME (LOG FORMS)"] == [title[f] for f in ("adverse_events", "outcome_events", "end_of_study")]
    assert all(number == page[name] for group in forms for (t, number) in group
               for name in config.forms if title[name] == t)
    assert [pdf.get_destination_page_number(b) + 1 for b in visits] == [group[0][1] for group in forms]


def test_visits_given_for_a_form_with_a_visit_column_or_not_in_the_schedule_are_refused(study, tmp_path):
    text = (acrf.DEFAULT_STUDY_DIR / "sdtm" / "acrf.yaml").read_text(encoding="utf-8")
    for broken in (text.replace("    visits: [WEEK-1]\n", "    visits: [WEEK-2]\n", 1),
                   text.replace("    title: Visit dates\n", "    title: Visit dates\n    visits: [WEEK0]\n")):
        (tmp_path / "acrf.yaml").write_text(broken, encoding="utf-8")
        with pytest.raises(ConfigError, match="visits that are not visit codes"):
            acrf.load_acrf(study, tmp_path / "acrf.yaml")


def test_a_forms_visit_values_outside_the_schedule_are_refused(tmp_path):
    """The visit bookmarks come from a form's VISIT values: one that is no visit code is a configuration error."""
    shutil.copytree(acrf.DEFAULT_STUDY_DIR, tmp_path / "study")
    edc = tmp_path / "study" / "sources" / "edc.yaml"
    text = edc.read_text(encoding="utf-8")
    edc.write_text(text.replace("values: {VISIT: [WEEK0, WEEK1,", "values: {VISIT: [WEEK0, WEEK1X,"), encoding="utf-8")
    study = load_study(tmp_path / "study")
    with pytest.raises(ConfigError, match=r"infusion': \['WEEK1X'\]"):
        acrf.load_acrf(study)


def test_the_same_configuration_draws_the_same_bytes_once_per_code(config, study, tmp_path, monkeypatch):
    """Drawn once per process, and kept in the area's folder for later processes under committed code;
    code of another version draws again and replaces the copy."""
    first = acrf.render_acrf(config, study, "NCT05985863")
    code = ("import hashlib, sys; from aclf.config import load_study; from cdisc.acrf import load_acrf, render_acrf; "
            "s = load_study(); pdf = render_acrf(load_acrf(s), s, 'NCT05985863'); "
            "sys.stdout.write(hashlib.sha256(pdf).hexdigest())")
    other = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "7"})
    assert other.stdout == hashlib.sha256(first).hexdigest()         # another process, another hash seed
    monkeypatch.setattr(acrf, "_DRAWN", {})
    monkeypatch.setattr(acrf, "code_and_libraries", lambda: "1.0+gabc|libs")
    assert acrf.drawing(config, study, "NCT05985863", tmp_path)() == first
    assert [p.read_bytes() for p in tmp_path.iterdir()] == [first]

    def fail(*_):
        raise AssertionError("drawn again")
    monkeypatch.setattr(acrf, "render_acrf", fail)
    assert acrf.drawing(config, study, "NCT05985863", tmp_path / "other")() == first     # this process's
    assert (tmp_path / "other").is_dir()                        # and the other area has its copy too
    monkeypatch.setattr(acrf, "_DRAWN", {})                     # a new process: the area's copy is read
    assert acrf.drawing(config, study, "NCT05985863", tmp_path)() == first
    monkeypatch.setattr(acrf, "code_and_libraries", lambda: "1.1+gdef|libs")
    monkeypatch.setattr(acrf, "render_acrf", lambda *_: b"%PDF new code")
    monkeypatch.setattr(acrf, "_DRAWN", {})
    assert acrf.drawing(config, study, "NCT05985863", tmp_path)() == b"%PDF new code"
    assert [p.read_bytes() for p in tmp_path.glob("acrf-*")] == [b"%PDF new code"]   # the old copy is gone


def test_a_changed_schedule_draws_again(config, study, monkeypatch):
    """The visit bookmarks are drawn from the schedule: a drawing is kept per schedule too."""
    monkeypatch.setattr(acrf, "_DRAWN", {})
    first = acrf.drawing(config, study, "NCT05985863")()
    relabelled = study.model_copy(update={"visits": [v.model_copy(update={"label": v.label.lower()})
                                                     for v in study.visits]})
    again = acrf.drawing(config, relabelled, "NCT05985863")()
    visits = [b.title for b in PdfReader(io.BytesIO(again)).outline[3] if not isinstance(b, list)]
    assert again != first and visits[1] == "week 0" and len(acrf._DRAWN) == 2


def test_define_names_the_acrf_and_points_collected_origins_to_their_pages(config, tmp_path):
    import pandas as pd

    spec = load_spec()
    datasets = {name: pd.DataFrame(columns=spec.datasets[name].names) for name in ("DM", "AE", "DS", "LB", "TS")}
    tree = build_define(spec, datasets, created="2026-12-07T10:00:00", crf_pages=acrf.pages(config))
    assert validate_define(tree) == []
    ref = tree.find(".//def:AnnotatedCRF/def:DocumentRef", NS)
    leaf = tree.find(f".//def:leaf[@ID='{ref.get('leafID')}']", NS)
    assert ref.get("leafID") == ACRF_LEAF and leaf.get(f"{{{define.XLINK_NS}}}href") == ACRF_FILE

    def page_refs(oid):
        return [(r.get("PageRefs"), r.get("Type")) for r in
                tree.iterfind(f".//odm:ItemDef[@OID='{oid}']/def:Origin/def:DocumentRef/def:PDFPageRef", NS)]
    assert page_refs("IT.DM.SEX") == [("2", "PhysicalRef")] and page_refs("IT.AE.AETERM") == [("6", "PhysicalRef")]
    assert page_refs("IT.DM.AGE") == [] and page_refs("IT.LB.LBORRES") == []          # derived; the laboratory's
    written = write_define(tree, tmp_path)        # our stylesheet links each page and the document
    page = etree.HTML(str(etree.XSLT(etree.parse(str(written.with_name("define2-1.xsl"))))(etree.parse(str(written)))))
    links = page.xpath("//a[starts-with(@href, 'acrf.pdf')]/@href")
    assert "acrf.pdf" in links and "acrf.pdf#page=2" in links and "acrf.pdf#page=6" in links
    ds_pages = acrf.pages(config)["DS.DSSTDTC"]                              # a variable on several pages
    cell = page.xpath("//tr[td[1]='DSSTDTC']/td[a[starts-with(@href, 'acrf.pdf#')]]")[0]
    assert cell.xpath("a/@href") == [f"acrf.pdf#page={n}" for n in ds_pages] and len(ds_pages) > 1
    without = build_define(spec, datasets, created="2026-12-07T10:00:00")
    assert without.find(".//def:AnnotatedCRF", NS) is None and not without.findall(".//def:DocumentRef", NS)
    assert etree.tostring(without).count(b"PDFPageRef") == 0
