"""define.xml: valid against the CDISC Define-XML 2.1 XSD, describes exactly what was written."""
from pathlib import Path

import odmlib
import pandas as pd
import pytest
from lxml import etree

from aclf.config import load_study
from cdisc import define
from cdisc.define import build_define, validate_define, write_define
from cdisc.spec import load_spec

NS = {"odm": define.ODM_NS, "def": define.DEF_NS, "xlink": define.XLINK_NS}
STUDYID = "NCT05985863"
CREATED = "2026-11-20T10:00:00"


@pytest.fixture(scope="module")
def spec():
    return load_spec()


def frame(spec, name, rows, drop=()):
    """Rows in spec column order (text as str, numbers as float), without the ``drop`` columns."""
    columns = [v.name for v in spec.datasets[name].variables if v.name not in drop]
    base = {"STUDYID": STUDYID, "DOMAIN": name}
    return pd.DataFrame([{c: {**base, **row}.get(c) for c in columns} for row in rows], columns=columns)


@pytest.fixture(scope="module")
def datasets(spec):
    subject = {"USUBJID": f"{STUDYID}-001"}
    dm = frame(spec, "DM", [{**subject, "SUBJID": "001", "RFSTDTC": "2024-03-05T09:30", "SITEID": "01",
                             "BRTHDTC": "1970-02-01", "AGE": 54.0, "AGEU": "YEARS", "SEX": "M",
                             "RACE": "ASIAN", "ETHNIC": "NOT HISPANIC OR LATINO", "ARMCD": "BLINDED",
                             "ARM": "Blinded until unblinding is authorized", "COUNTRY": "CHN"}])
    lb_row = {**subject, "LBREFID": "S1", "LBTEST": "Albumin", "VISITNUM": 1.0, "LBDTC": "2024-03-05"}
    lb = frame(spec, "LB", [
        {**lb_row, "LBSEQ": 1.0, "LBTESTCD": "ALB", "LBORRES": "3.5", "LBORRESU": "g/dL",
         "LBSTRESC": "35.0", "LBSTRESN": 35.0, "LBSTRESU": "g/L"},
        {**lb_row, "LBSEQ": 2.0, "LBTESTCD": "PTAC", "LBTEST": "Prothrombin Activity", "LBORRES": "62",
         "LBORRESU": "%", "LBSTRESC": "62", "LBSTRESN": 62.0, "LBSTRESU": "%"},
        {**lb_row, "LBSEQ": 3.0, "LBTESTCD": "INR", "LBTEST": "Prothrombin Intl. Normalized Ratio",
         "LBORRES": "1.85", "LBSTRESC": "1.85", "LBSTRESN": 1.85},
    ], drop=("LBNAM",))
    ts = frame(spec, "TS", [{"TSSEQ": 1.0, "TSPARMCD": "TITLE", "TSPARM": "Trial Title",
                             "TSVAL": "hUC-MSC in acute-on-chronic liver failure"}])
    ae = frame(spec, "AE", [{**subject, "AESEQ": 1.0, "AESPID": "1", "AETERM": "Fever", "AEDECOD": "Pyrexia",
                             "AEBODSYS": "General disorders and administration site conditions",
                             "AESER": "N", "AEREL": "NOT RELATED", "AESTDTC": "2024-03"}])
    ds = frame(spec, "DS", [
        {**subject, "DSSEQ": 1.0, "DSTERM": "RANDOMIZED", "DSDECOD": "RANDOMIZED", "DSCAT": "PROTOCOL MILESTONE",
         "DSSTDTC": "2024-03-04"},
        {**subject, "DSSEQ": 2.0, "DSTERM": "COMPLETED", "DSDECOD": "COMPLETED", "DSCAT": "DISPOSITION EVENT",
         "DSSTDTC": "2025-03-04"}])
    suppdm = frame(spec, "SUPPDM", [{**subject, "RDOMAIN": "DM", "IDVAR": "", "IDVARVAL": "", "QNAM": "CETHNIC",
                                     "QLABEL": "Collected Ethnicity", "QVAL": "HAN", "QORIG": "Collected",
                                     "QEVAL": ""}])
    return {"DM": dm, "LB": lb, "TS": ts, "AE": ae, "DS": ds, "SUPPDM": suppdm}


@pytest.fixture(scope="module")
def value_level():
    return {"LB": {code: {"unit": t.standard_unit, "label": t.name} for code, t in load_study().lab.tests.items()}}


@pytest.fixture(scope="module")
def tree(spec, datasets, value_level):
    return build_define(spec, datasets, value_level=value_level, created=CREATED)


@pytest.fixture(scope="module")
def written(tree, tmp_path_factory):
    return write_define(tree, tmp_path_factory.mktemp("define"))


def item_def(tree, oid):
    return tree.find(f".//odm:ItemDef[@OID='{oid}']", NS)


def test_valid_against_the_define_xsd(tree, written):
    assert validate_define(tree) == []
    assert validate_define(written) == []
    root = etree.parse(str(written)).getroot()
    assert root.get("FileType") == "Snapshot" and root.get("ODMVersion") == "1.3.2"
    assert root.get(f"{{{define.DEF_NS}}}Context") == "Submission"
    assert written.read_bytes().startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


def test_a_broken_define_fails(tree):
    broken = etree.fromstring(etree.tostring(tree))
    del broken.find(".//odm:ItemGroupDef", NS).attrib["Name"]
    errors = validate_define(etree.ElementTree(broken))
    assert errors and any("Name" in e for e in errors)


def test_element_order_matters(tree):
    broken = etree.fromstring(etree.tostring(tree))
    mdv = broken.find(".//odm:MetaDataVersion", NS)
    mdv.append(mdv.find("odm:ItemGroupDef", NS))     # an ItemGroupDef after the CommentDefs
    assert validate_define(etree.ElementTree(broken))


def test_schema_comes_from_odmlib_and_a_missing_one_raises(monkeypatch, tmp_path):
    assert define.SCHEMA_PATH.is_file()
    assert define.SCHEMA_PATH.is_relative_to(Path(odmlib.__file__).parent)
    monkeypatch.setattr(define, "SCHEMA_PATH", tmp_path / "missing.xsd")
    with pytest.raises(FileNotFoundError):
        validate_define(etree.ElementTree(etree.Element("ODM")))


def test_every_written_dataset_and_variable_is_described(tree, datasets):
    groups = {ig.get("Name"): ig for ig in tree.iterfind(".//odm:ItemGroupDef", NS)}
    assert list(groups) == ["AE", "DM", "DS", "LB", "SUPPDM", "TS"]
    for name, df in datasets.items():
        refs = [r.get("ItemOID") for r in groups[name].iterfind("odm:ItemRef", NS)]
        assert refs == [f"IT.{name}.{c}" for c in df.columns]
        assert all(item_def(tree, oid) is not None for oid in refs)
    assert item_def(tree, "IT.LB.LBNAM") is None                # Perm, left out of the frame
    assert "IT.LB.LBNAM" not in etree.tostring(tree, encoding="unicode")
    assert tree.find(".//odm:ItemGroupDef[@Name='EC']", NS) is None


def test_dataset_attributes(tree):
    dm = tree.find(".//odm:ItemGroupDef[@Name='DM']", NS)
    assert dm.get("Repeating") == "No" and dm.get("IsReferenceData") == "No"
    assert dm.get(f"{{{define.DEF_NS}}}CommentOID") == "COM.BLINDED"
    ts = tree.find(".//odm:ItemGroupDef[@Name='TS']", NS)
    assert ts.get("Repeating") == "Yes" and ts.get("IsReferenceData") == "Yes"
    assert ts.find("def:Class", NS).get("Name") == "TRIAL DESIGN"
    assert dm.find("def:Class", NS).get("Name") == "SPECIAL PURPOSE"
    keys = {r.get("ItemOID"): r.get("KeySequence") for r in dm.iterfind("odm:ItemRef", NS)}
    assert keys["IT.DM.STUDYID"] == "1" and keys["IT.DM.USUBJID"] == "2" and keys["IT.DM.AGE"] is None


def test_leaf_hrefs_are_lower_case_xpt(tree, datasets):
    hrefs = {ig.get("Name"): ig.find("def:leaf", NS).get(f"{{{define.XLINK_NS}}}href")
             for ig in tree.iterfind(".//odm:ItemGroupDef", NS)}
    assert hrefs == {name: f"{name.lower()}.xpt" for name in datasets} and hrefs["SUPPDM"] == "suppdm.xpt"


def test_lengths_and_types(tree, datasets):
    longest = max(len(v.encode()) for v in datasets["AE"]["AEBODSYS"])
    assert item_def(tree, "IT.AE.AEBODSYS").get("Length") == str(longest)
    assert item_def(tree, "IT.DM.SEX").get("Length") == "1"
    assert item_def(tree, "IT.DM.DTHFL").get("Length") == "1"            # all empty: at least 1
    assert item_def(tree, "IT.DM.AGE").get("DataType") == "integer"
    assert item_def(tree, "IT.DM.AGE").get("Length") == "8"
    assert item_def(tree, "IT.LB.LBSTRESN").get("DataType") == "float"
    assert item_def(tree, "IT.AE.AESTDTC").get("DataType") == "partialDatetime"
    assert item_def(tree, "IT.AE.AESTDTC").get("Length") is None


def test_origins_and_methods(tree):
    origin = item_def(tree, "IT.DM.SEX").find("def:Origin", NS)
    assert (origin.get("Type"), origin.get("Source")) == ("Collected", "Investigator")
    assert item_def(tree, "IT.DM.AGE").find("def:Origin", NS).get("Type") == "Derived"
    assert item_def(tree, "IT.TS.TSVAL").find("def:Origin", NS).get("Type") == "Protocol"
    age = tree.find(".//odm:ItemRef[@ItemOID='IT.DM.AGE']", NS)
    assert age.get("MethodOID") == "MT.AGE"
    methods = {m.get("OID") for m in tree.iterfind(".//odm:MethodDef", NS)}
    assert "MT.AGE" in methods and "MT.VISITNUM" in methods
    assert "MT.RFXENDTC" in methods                      # its variable is in the frame (empty)
    comments = {c.get("OID") for c in tree.iterfind(".//def:CommentDef", NS)}
    assert {"COM.BLINDED", "COM.PTAC", "COM.AETERM"} <= comments
    for name in ("SITEID", "SEX"):      # collected, with what stands in until a site's correction
        assert item_def(tree, f"IT.DM.{name}").get(f"{{{define.DEF_NS}}}CommentOID") == f"COM.{name}"
        text = tree.find(f".//def:CommentDef[@OID='COM.{name}']/odm:Description/odm:TranslatedText", NS).text
        assert "until the correction arrives" in text
    assert "COM.RS" not in comments and "COM.ECTRT" not in comments


def test_codelists(tree):
    lists = {cl.get("OID"): cl for cl in tree.iterfind(".//odm:CodeList", NS)}
    lbtestcd = lists["CL.LBTESTCD"]
    assert lbtestcd.find("odm:Alias", NS).get("Name") == "C65047"
    assert lbtestcd.find("odm:Alias", NS).get("Context") == "nci:ExtCodeID"
    ext = f"{{{define.DEF_NS}}}ExtendedValue"
    ptac = lbtestcd.find("odm:CodeListItem[@CodedValue='PTAC']", NS)     # a CDISC term since 2021
    assert ptac.get(ext) is None and ptac.find("odm:Alias", NS).get("Name") == "C170591"
    alb = lbtestcd.find("odm:CodeListItem[@CodedValue='ALB']", NS)
    assert alb.get(ext) is None and alb.find("odm:Alias", NS).get("Name") == "C64431"
    assert lbtestcd.get(f"{{{define.DEF_NS}}}StandardOID") == "STD.CT.2025-03-28"
    unit = lists["CL.UNIT"]                                              # NCI codes from the pinned release
    assert unit.find("odm:CodeListItem[@CodedValue='g/L']/odm:Alias", NS).get("Name") == "C42576"
    assert unit.find("odm:CodeListItem[@CodedValue='10^3/uL']", NS).get(ext) == "Yes"
    ethnic = lists["CL.ETHNIC"].find("odm:CodeListItem", NS)
    assert ethnic.get("CodedValue") == "NOT HISPANIC OR LATINO" and ethnic.find("odm:Alias", NS).get("Name") == "C41222"
    assert lists["CL.TOXGR"].find("odm:EnumeratedItem", NS) is not None     # no decodes
    assert lists["CL.AEREL"].find("odm:EnumeratedItem", NS).get(ext) is None  # sponsor list
    meddra = lists["CL.MEDDRA"].find("odm:ExternalCodeList", NS)
    assert (meddra.get("Dictionary"), meddra.get("Version")) == ("MedDRA", "27.0")
    assert "CL.RSTESTCD" not in lists and "CL.ROUTE" not in lists          # not referenced


@pytest.mark.parametrize("item, by, expected", [
    # disposition events and protocol milestones are different CDISC codelists (NCOMPLT, PROTMLST)
    ("IT.DS.DSDECOD", "IT.DS.DSCAT", {"DISPOSITION EVENT": ("CL.NCOMPLT", "C66727"),
                                      "PROTOCOL MILESTONE": ("CL.PROTMLST", "C114118")}),
    # each supplemental qualifier its own codelist: CETHNIC is Ethnicity As Collected
    ("IT.SUPPDM.QVAL", "IT.SUPPDM.QNAM", {"CETHNIC": ("CL.ETHNICC", "C128690")}),
])
def test_a_variable_takes_its_codelist_by_another_variables_value(tree, item, by, expected):
    """Value-level metadata: the variable has no codelist of its own, each value of ``by`` one."""
    variable = item_def(tree, item)
    assert variable.find("odm:CodeListRef", NS) is None
    vl = tree.find(".//def:ValueListDef[@OID='%s']" % variable.find("def:ValueListRef", NS).get("ValueListOID"), NS)
    refs = {r.find("def:WhereClauseRef", NS).get("WhereClauseOID"): r.get("ItemOID") for r in vl.iterfind("odm:ItemRef", NS)}
    lists = {}
    for wc_oid, item_oid in refs.items():
        check = tree.find(f".//def:WhereClauseDef[@OID='{wc_oid}']/odm:RangeCheck", NS)
        assert check.get(f"{{{define.DEF_NS}}}ItemOID") == by
        lists[check.find("odm:CheckValue", NS).text] = item_def(tree, item_oid).find("odm:CodeListRef", NS).get("CodeListOID")
    codes = {cl.get("OID"): cl.find("odm:Alias", NS).get("Name") for cl in tree.iterfind(".//odm:CodeList", NS)
             if cl.find("odm:Alias", NS) is not None}
    assert {value: (oid, codes[oid]) for value, oid in lists.items()} == expected


def test_lab_results_come_from_the_vendor(tree):
    assert item_def(tree, "IT.LB.LBORRES").find("def:Origin", NS).get("Source") == "Vendor"
    assert item_def(tree, "IT.AE.AETERM").find("def:Origin", NS).get("Source") == "Investigator"


def test_standards(tree, spec):
    standards = {s.get("Type"): s for s in tree.iterfind(".//def:Standard", NS)}
    assert (standards["IG"].get("Name"), standards["IG"].get("Version")) == ("SDTMIG", "3.4")
    assert standards["CT"].get("Version") == spec.ct_version
    assert {ig.get(f"{{{define.DEF_NS}}}StandardOID") for ig in tree.iterfind(".//odm:ItemGroupDef", NS)} \
        == {standards["IG"].get("OID")}


def test_value_level_metadata_for_lb(tree, datasets, value_level):
    present = set(datasets["LB"]["LBTESTCD"])
    tests = [code for code in value_level["LB"] if code in present]       # mapping order
    clauses = [c for c in tree.findall(".//def:WhereClauseDef", NS) if c.get("OID").startswith("WC.LB.")]
    assert len(clauses) == len(tests) == 3
    for clause, code in zip(clauses, tests):
        check = clause.find("odm:RangeCheck", NS)
        assert check.get("Comparator") == "EQ" and check.findtext("odm:CheckValue", namespaces=NS) == code
        assert check.get(f"{{{define.DEF_NS}}}ItemOID") == "IT.LB.LBTESTCD"
    for var in ("LBSTRESN", "LBSTRESU"):
        ref = item_def(tree, f"IT.LB.{var}").find("def:ValueListRef", NS)
        vl = tree.find(f".//def:ValueListDef[@OID='{ref.get('ValueListOID')}']", NS)
        assert [r.get("ItemOID") for r in vl.iterfind("odm:ItemRef", NS)] == [f"IT.LB.{var}.{t}" for t in tests]
    assert item_def(tree, "IT.LB.LBSTRESU.ALB").get("Length") == "3"          # g/L
    assert item_def(tree, "IT.LB.LBSTRESU.INR").get("Length") == "1"          # no unit
    alb = item_def(tree, "IT.LB.LBSTRESN.ALB")
    comment = tree.find(f".//def:CommentDef[@OID='{alb.get(f'{{{define.DEF_NS}}}CommentOID')}']", NS)
    assert "g/L" in comment.findtext("odm:Description/odm:TranslatedText", namespaces=NS)


def test_no_value_level_without_the_mapping(spec, datasets):
    tree = build_define(spec, {"LB": datasets["LB"]}, created=CREATED)
    assert validate_define(tree) == []
    assert tree.find(".//def:ValueListDef", NS) is None and tree.find(".//def:WhereClauseDef", NS) is None


def test_html_names_every_dataset(written, datasets):
    html = written.with_name("define.html").read_text(encoding="utf-8")
    assert "<html" in html and "<span/>" not in html
    for name in datasets:
        assert f"{name.lower()}.xpt" in html and f">{name}<" in html


def test_the_html_applies_the_stylesheet_defineutils_ships(written):
    """Found without importing defineutils (cdisc.define.defineutils_stylesheet): the very file its
    DefineHtml applies."""
    from defineutils.definehtml import DefineHtml

    assert define.defineutils_stylesheet() == DefineHtml(written).xslt


def test_fallback_html_when_defineutils_cannot_render(tree, datasets, tmp_path, monkeypatch):
    monkeypatch.setattr(define, "_defineutils_html", lambda path: None)
    html = write_define(tree, tmp_path).with_name("define.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    for name in datasets:
        assert f"<td>{name}</td>" in html
    assert "MT.LBSTRESN" in html and "CL.LBTESTCD" in html and "COM.PTAC" in html


def test_unknown_dataset_or_class_is_refused(spec, datasets):
    with pytest.raises(ValueError, match="not in the spec"):
        build_define(spec, {"XX": datasets["DM"]}, created=CREATED)
    bad = spec.model_copy(update={"datasets": {**spec.datasets, "DM": spec.datasets["DM"].model_copy(
        update={"class_": "DEMOGRAPHICS"})}})
    with pytest.raises(ValueError, match="class"):
        build_define(bad, {"DM": datasets["DM"]}, created=CREATED)


def test_define_xml_names_its_stylesheet_which_renders_every_section(written, datasets):
    """``<?xml-stylesheet?>`` right after the declaration, our XSLT beside it; applied (lxml here, a
    browser in tests/pipelines/test_daemon.py) it renders datasets, variables, codelists with NCI
    codes, value-level metadata and methods, all linked; the file still validates against the XSD."""
    text = written.read_text(encoding="utf-8")
    assert text.splitlines()[1] == '<?xml-stylesheet type="text/xsl" href="define2-1.xsl"?>'
    assert validate_define(written) == []
    stylesheet = written.with_name("define2-1.xsl")
    page = etree.HTML(str(etree.XSLT(etree.parse(str(stylesheet)))(etree.parse(str(written)))))
    anchors = set(page.xpath("//@id"))
    assert {f"IG.{name}" for name in datasets} <= anchors
    for link in page.xpath("//a[starts-with(@href, '#')]/@href"):
        assert link[1:] in anchors, link                     # every internal link lands somewhere
    names = " ".join(page.xpath("//td/text()"))
    nci = page.xpath("//h2[@id='codelists']/following-sibling::table//tr/td[3]/text()")
    assert "LBTESTCD" in names and any(code.startswith("C") and code[1:].isdigit() for code in nci)
    assert page.xpath("//h2[@id='valuelevel']/following-sibling::h3")
