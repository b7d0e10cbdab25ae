"""Define-XML 2.1 (ODM 1.3.2) for the written SDTM datasets, built from the spec, checked against the
CDISC XSD shipped in odmlib, and rendered to HTML beside it."""
from __future__ import annotations

import html
import importlib.util
import shutil
from collections.abc import Iterable, Mapping
from importlib.resources import files
from pathlib import Path

import pandas as pd
from lxml import etree

from cdisc.columns import max_bytes
from cdisc.spec import Codelist, Dataset, Spec, Variable

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
NSMAP = {None: ODM_NS, "def": DEF_NS, "xlink": XLINK_NS}

ACRF_LEAF = "LF.acrf"
ACRF_FILE = "acrf.pdf"
SCHEMA_PATH = Path(str(files("odmlib"))) / "schemas" / "define" / "2.1" / "define2-1-0.xsd"

# def:Class/@Name enumeration (define-enumerations.xsd, ItemGroupClass) for SDTM.
ITEM_GROUP_CLASSES = frozenset({
    "EVENTS", "FINDINGS", "FINDINGS ABOUT", "INTERVENTIONS", "RELATIONSHIP", "SPECIAL PURPOSE",
    "STUDY REFERENCE", "TRIAL DESIGN",
    "SUBJECT LEVEL ANALYSIS DATASET", "BASIC DATA STRUCTURE", "OCCURRENCE DATA STRUCTURE", "ADAM OTHER",
})
PUBLISHING_SETS = {"SDTMIG": "SDTM", "SDTMIG-AP": "SDTM", "SDTMIG-MD": "SDTM", "SENDIG": "SEND",
                   "ADaMIG": "ADaM"}
DATASET_PURPOSE = {"SDTMIG": "Tabulation", "SENDIG": "Tabulation", "ADaMIG": "Analysis"}
# Variables of a dataset with value_level that get value-level metadata: <domain> + suffix.
VALUE_LEVEL_SUFFIXES = ("STRESN", "STRESU")
NUMERIC_LENGTH = 8


def _q(name: str, ns: str = ODM_NS) -> str:
    return f"{{{ns}}}{name}"


def _d(name: str) -> str:
    return _q(name, DEF_NS)


def _sub(parent: etree._Element, tag: str, attrs: Mapping[str, object] | None = None) -> etree._Element:
    """A child element; attributes whose value is None are left out."""
    el = etree.SubElement(parent, tag)
    for key, value in (attrs or {}).items():
        if value is not None:
            el.set(key, str(value))
    return el


def _text(parent: etree._Element, text: str, tag: str = "Description") -> etree._Element:
    holder = _sub(parent, _q(tag))
    tt = _sub(holder, _q("TranslatedText"), {_q("lang", XML_NS): "en"})
    tt.text = text
    return holder


def _yes_no(flag: bool) -> str:
    return "Yes" if flag else "No"


# ---------------------------------------------------------------------------------------------
# What is described
# ---------------------------------------------------------------------------------------------

class _Plan:
    """The datasets and variables actually written, and what they reference."""

    def __init__(self, spec: Spec, datasets: Mapping[str, pd.DataFrame],
                 value_level: Mapping[str, Mapping[str, Mapping]] | None,
                 crf_pages: Mapping[str, list[int]] | None = None):
        unknown = sorted(set(datasets) - set(spec.datasets))
        if unknown:
            raise ValueError(f"datasets not in the spec: {unknown}")
        self.spec = spec
        self.frames = dict(datasets)
        self.datasets = [spec.datasets[name] for name in spec.datasets if name in datasets]
        self.value_level = {ds.name: self._tests(ds, (value_level or {}).get(ds.name, {}))
                            for ds in self.datasets}
        self.crf_pages = crf_pages

    def pages(self, ds: Dataset, var: Variable) -> list[int] | None:
        """The annotated CRF's pages of a collected variable (None: no aCRF, or not on it)."""
        return (self.crf_pages or {}).get(f"{ds.name}.{var.name}") if var.origin == "Collected" else None

    def variables(self, ds: Dataset) -> list[Variable]:
        columns = set(self.frames[ds.name].columns)
        return [v for v in ds.variables if v.name in columns]

    def _tests(self, ds: Dataset, tests: Mapping[str, Mapping]) -> dict[str, Mapping]:
        """Value-level tests of a dataset: those of the mapping whose code occurs in the data."""
        frame = self.frames[ds.name]
        if not ds.value_level or ds.value_level not in frame.columns or not self._result_variables(ds):
            return {}
        present = set(frame[ds.value_level].dropna().astype(str).unique())   # distinct first: LB has 800,000 rows
        return {code: info for code, info in tests.items() if code in present}

    def _result_variables(self, ds: Dataset) -> list[Variable]:
        names = {ds.name + suffix for suffix in VALUE_LEVEL_SUFFIXES}
        return [v for v in self.variables(ds) if v.name in names]

    def vl_targets(self, ds: Dataset) -> list[Variable]:
        """The variables given value-level metadata (none when no test of the mapping is written)."""
        return self._result_variables(ds) if self.value_level[ds.name] else []

    def split_targets(self, ds: Dataset) -> list[Variable]:
        """Variables with value-level metadata by another variable present in the data (DSDECOD by
        DSCAT, ADSCORE.AVAL by PARAMCD)."""
        columns = set(self.frames[ds.name].columns)
        return [v for v in self.variables(ds) if v.by and v.by.variable in columns]

    def all_variables(self) -> Iterable[Variable]:
        for ds in self.datasets:
            yield from self.variables(ds)

    def codelist_ids(self) -> set[str]:
        split = {cl for v in self.all_variables() if v.by for cl in v.by.codelists.values()}
        return {v.codelist for v in self.all_variables() if v.codelist} | split

    def method_ids(self) -> set[str]:
        split = {m for v in self.all_variables() if v.by for m in v.by.methods.values()}
        return {v.method for v in self.all_variables() if v.method} | split

    def comment_ids(self) -> set[str]:
        ids = {v.comment for v in self.all_variables() if v.comment}
        return ids | {ds.comment for ds in self.datasets if ds.comment}


# ---------------------------------------------------------------------------------------------
# OIDs
# ---------------------------------------------------------------------------------------------

def _ig_oid(ds: Dataset) -> str:
    return f"IG.{ds.name}"


def _it_oid(ds: Dataset, var: Variable, test: str | None = None) -> str:
    return f"IT.{ds.name}.{var.name}" + (f".{test}" if test else "")


def _leaf_id(ds: Dataset) -> str:
    return f"LF.{ds.name}"


def _vl_oid(ds: Dataset, var: Variable) -> str:
    return f"VL.{ds.name}.{var.name}"


def _wc_oid(ds: Dataset, test: str) -> str:
    return f"WC.{ds.name}.{ds.value_level}.{test}"


def _split_oids(ds: Dataset, var: Variable, value: str) -> tuple[str, str]:
    """ItemDef and WhereClauseDef OIDs of one value of a split variable (spaces are not kept)."""
    key = value.replace(" ", "_")
    return f"IT.{ds.name}.{var.name}.{key}", f"WC.{ds.name}.{var.by.variable}.{key}"


def _vl_comment_oid(ds: Dataset, test: str) -> str:
    return f"COM.{ds.name}.{ds.value_level}.{test}"


def _ig_std_oid(spec: Spec) -> str:
    return f"STD.{spec.standard}.{spec.version}"


def _ct_std_oid(spec: Spec) -> str:
    return f"STD.CT.{spec.ct_version}"


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------

def _class_name(ds: Dataset) -> str:
    name = " ".join(ds.class_.replace("-", " ").replace("_", " ").upper().split())
    if name not in ITEM_GROUP_CLASSES:
        raise ValueError(f"{ds.name}: class {ds.class_!r} is not a Define-XML 2.1 dataset class")
    return name


def _length(var: Variable, frame: pd.DataFrame) -> int | None:
    if var.is_numeric:
        return NUMERIC_LENGTH
    if var.type != "text":
        return None                     # ISO 8601 date types carry no Length in Define-XML 2.1
    return var.length or max_bytes(frame[var.name])


def _origin_source(ds: Dataset, var: Variable) -> str | None:
    return ds.collected_by if var.origin == "Collected" else None


# ---------------------------------------------------------------------------------------------
# Elements
# ---------------------------------------------------------------------------------------------

def _standards(mdv: etree._Element, spec: Spec) -> None:
    stds = _sub(mdv, _d("Standards"))
    _sub(stds, _d("Standard"), {"OID": _ig_std_oid(spec), "Name": spec.standard, "Type": "IG",
                                "Version": spec.version, "Status": "Final"})
    _sub(stds, _d("Standard"), {"OID": _ct_std_oid(spec), "Name": "CDISC/NCI", "Type": "CT",
                                "PublishingSet": PUBLISHING_SETS.get(spec.standard),
                                "Version": spec.ct_version, "Status": "Final"})


def _value_lists(mdv: etree._Element, plan: _Plan) -> None:
    for ds in plan.datasets:
        tests = plan.value_level[ds.name]
        for var in plan.vl_targets(ds):
            vl = _sub(mdv, _d("ValueListDef"), {"OID": _vl_oid(ds, var)})
            for order, test in enumerate(tests, 1):
                ref = _sub(vl, _q("ItemRef"), {"ItemOID": _it_oid(ds, var, test), "OrderNumber": order,
                                               "Mandatory": "No", "MethodOID": var.method})
                _sub(ref, _d("WhereClauseRef"), {"WhereClauseOID": _wc_oid(ds, test)})
        for var in plan.split_targets(ds):
            vl = _sub(mdv, _d("ValueListDef"), {"OID": _vl_oid(ds, var)})
            for order, value in enumerate(var.by.values, 1):
                item_oid, wc_oid = _split_oids(ds, var, value)
                ref = _sub(vl, _q("ItemRef"), {"ItemOID": item_oid, "OrderNumber": order,
                                               "Mandatory": _yes_no(var.core == "Req"),
                                               "MethodOID": var.by.methods.get(value, var.method)})
                _sub(ref, _d("WhereClauseRef"), {"WhereClauseOID": wc_oid})


def _where_clauses(mdv: etree._Element, plan: _Plan) -> None:
    for ds in plan.datasets:
        for test in plan.value_level[ds.name]:
            wc = _sub(mdv, _d("WhereClauseDef"), {"OID": _wc_oid(ds, test)})
            rc = _sub(wc, _q("RangeCheck"), {"Comparator": "EQ", "SoftHard": "Soft",
                                              _d("ItemOID"): _it_oid(ds, ds.variable[ds.value_level])})
            _sub(rc, _q("CheckValue")).text = test
        for var in plan.split_targets(ds):
            by = ds.variable[var.by.variable]
            for value in var.by.values:
                wc = _sub(mdv, _d("WhereClauseDef"), {"OID": _split_oids(ds, var, value)[1]})
                rc = _sub(wc, _q("RangeCheck"), {"Comparator": "EQ", "SoftHard": "Soft", _d("ItemOID"): _it_oid(ds, by)})
                _sub(rc, _q("CheckValue")).text = value


def _item_group(mdv: etree._Element, plan: _Plan, ds: Dataset) -> None:
    spec = plan.spec
    ig = _sub(mdv, _q("ItemGroupDef"), {
        "OID": _ig_oid(ds), "Name": ds.name, "Repeating": _yes_no(ds.repeating),
        "IsReferenceData": _yes_no(ds.reference), "SASDatasetName": ds.name, "Domain": ds.name,
        "Purpose": DATASET_PURPOSE.get(spec.standard, "Tabulation"), _d("Structure"): ds.structure,
        _d("StandardOID"): _ig_std_oid(spec), _d("ArchiveLocationID"): _leaf_id(ds),
        _d("CommentOID"): ds.comment,
    })
    _text(ig, ds.label)
    for order, var in enumerate(plan.variables(ds), 1):
        _sub(ig, _q("ItemRef"), {
            "ItemOID": _it_oid(ds, var), "OrderNumber": order,
            "Mandatory": _yes_no(var.core == "Req"),
            "KeySequence": ds.keys.index(var.name) + 1 if var.name in ds.keys else None,
            "MethodOID": var.method, "Role": var.role,
        })
    group_class = _sub(ig, _d("Class"), {"Name": _class_name(ds)})
    if ds.subclass:
        _sub(group_class, _d("SubClass"), {"Name": ds.subclass})
    leaf = _sub(ig, _d("leaf"), {"ID": _leaf_id(ds), _q("href", XLINK_NS): f"{ds.name.lower()}.xpt"})
    _sub(leaf, _d("title")).text = f"{ds.name.lower()}.xpt"


def _item_def(mdv: etree._Element, oid: str, ds: Dataset, var: Variable, *, length: int | None, label: str,
              comment: str | None, value_list: str | None = None, codelist: str | None = None,
              pages: list[int] | None = None) -> None:
    item = _sub(mdv, _q("ItemDef"), {
        "OID": oid, "Name": var.name, "DataType": var.type, "Length": length,
        "SignificantDigits": var.significant_digits if var.type == "float" else None,
        "SASFieldName": var.name, _d("CommentOID"): comment,
    })
    _text(item, label)
    if codelist or var.codelist:
        _sub(item, _q("CodeListRef"), {"CodeListOID": codelist or var.codelist})
    origin = _sub(item, _d("Origin"), {"Type": var.origin, "Source": _origin_source(ds, var)})
    if var.source:
        _text(origin, var.source)
    if pages:
        ref = _sub(origin, _d("DocumentRef"), {"leafID": ACRF_LEAF})
        _sub(ref, _d("PDFPageRef"), {"PageRefs": " ".join(map(str, pages)), "Type": "PhysicalRef"})
    if value_list:
        _sub(item, _d("ValueListRef"), {"ValueListOID": value_list})


def _item_defs(mdv: etree._Element, plan: _Plan) -> None:
    for ds in plan.datasets:
        frame = plan.frames[ds.name]
        targets = {v.name for v in plan.vl_targets(ds) + plan.split_targets(ds)}
        for var in plan.variables(ds):
            _item_def(mdv, _it_oid(ds, var), ds, var, length=_length(var, frame), label=var.label,
                      comment=var.comment, value_list=_vl_oid(ds, var) if var.name in targets else None,
                      pages=plan.pages(ds, var))
    for ds in plan.datasets:
        _value_level_item_defs(mdv, plan, ds)
        frame = plan.frames[ds.name]
        for var in plan.split_targets(ds):
            for value in var.by.values:     # the one variable's rows (ADSCORE whole, per parameter: 0.5 s)
                rows = frame.loc[frame[var.by.variable] == value, [var.name]]
                _item_def(mdv, _split_oids(ds, var, value)[0], ds, var, length=_length(var, rows),
                          label=f"{var.label} ({value})", comment=var.comment, codelist=var.by.codelists.get(value),
                          pages=plan.pages(ds, var))


def _value_level_item_defs(mdv: etree._Element, plan: _Plan, ds: Dataset) -> None:
    frame = plan.frames[ds.name]
    targets = plan.vl_targets(ds)
    # each test's rows found once: a filter of the whole frame per variable and test took 1.2 s of LB
    positions = frame.groupby(ds.value_level, sort=False).indices if targets else {}
    for var in targets:
        for test, info in plan.value_level[ds.name].items():
            unit = info.get("unit") or ""
            label = f"{var.label}: {info.get('label') or test}" + (f" ({unit})" if unit else "")
            rows = frame[[var.name]].iloc[positions.get(test, [])]
            _item_def(mdv, _it_oid(ds, var, test), ds, var, length=_length(var, rows), label=label,
                      comment=_vl_comment_oid(ds, test))


def _codelist(mdv: etree._Element, spec: Spec, cl: Codelist) -> None:
    el = _sub(mdv, _q("CodeList"), {"OID": cl.id, "Name": cl.name, "DataType": cl.type,
                                   _d("StandardOID"): _ct_std_oid(spec) if cl.nci else None})
    if cl.dictionary:
        _sub(el, _q("ExternalCodeList"), {"Dictionary": cl.dictionary, "Version": cl.version})
    decoded = any(t.decode for t in cl.terms)
    for order, term in enumerate(cl.terms, 1):
        attrs = {"CodedValue": term.value, "OrderNumber": order,
                 _d("ExtendedValue"): "Yes" if term.extended else None}
        item = _sub(el, _q("CodeListItem" if decoded else "EnumeratedItem"), attrs)
        if decoded:
            _text(item, term.decode or term.value, tag="Decode")
        if term.nci:
            _sub(item, _q("Alias"), {"Context": "nci:ExtCodeID", "Name": term.nci})
    if cl.nci:
        _sub(el, _q("Alias"), {"Context": "nci:ExtCodeID", "Name": cl.nci})


def _comment(mdv: etree._Element, oid: str, text: str) -> None:
    _text(_sub(mdv, _d("CommentDef"), {"OID": oid}), text)


def _value_level_comments(mdv: etree._Element, plan: _Plan) -> None:
    for ds in plan.datasets:
        for test, info in plan.value_level[ds.name].items():
            unit = info.get("unit") or ""
            what = f"{ds.value_level} = {test} ({info.get('label') or test})"
            text = f"{what}: standard unit {unit}." if unit else f"{what}: no unit (a ratio)."
            _comment(mdv, _vl_comment_oid(ds, test), text)


def _metadata_version(study: etree._Element, plan: _Plan, file_oid: str) -> None:
    spec = plan.spec
    mdv = _sub(study, _q("MetaDataVersion"), {
        "OID": f"MDV.{file_oid}", "Name": f"{spec.study_name} {spec.standard} {spec.version} define",
        "Description": f"Data definitions of the {spec.standard} {spec.version} datasets of {spec.study_name}",
        _d("DefineVersion"): "2.1.0",
    })
    # The XSD fixes this order: Standards, AnnotatedCRF, ValueListDef, WhereClauseDef, ItemGroupDef,
    # ItemDef, CodeList, MethodDef, def:CommentDef, def:leaf.
    _standards(mdv, spec)
    if plan.crf_pages is not None:
        _sub(_sub(mdv, _d("AnnotatedCRF")), _d("DocumentRef"), {"leafID": ACRF_LEAF})
    _value_lists(mdv, plan)
    _where_clauses(mdv, plan)
    for ds in plan.datasets:
        _item_group(mdv, plan, ds)
    _item_defs(mdv, plan)
    used = plan.codelist_ids()
    for cl in spec.codelists.values():
        if cl.id in used:
            _codelist(mdv, spec, cl)
    used = plan.method_ids()
    for method in spec.methods.values():
        if method.id in used:
            el = _sub(mdv, _q("MethodDef"), {"OID": method.id, "Name": method.name, "Type": method.type})
            _text(el, method.description)
    used = plan.comment_ids()
    for comment in spec.comments.values():
        if comment.id in used:
            _comment(mdv, comment.id, comment.text)
    _value_level_comments(mdv, plan)
    if plan.crf_pages is not None:
        leaf = _sub(mdv, _d("leaf"), {"ID": ACRF_LEAF, _q("href", XLINK_NS): ACRF_FILE})
        _sub(leaf, _d("title")).text = "Annotated Case Report Form"


def build_define(spec: Spec, datasets: Mapping[str, pd.DataFrame], *,
                 value_level: Mapping[str, Mapping[str, Mapping]] | None = None, created: str,
                 file_oid: str = "DEFINE.NCT05985863.SDTM",
                 context: str = "Submission", crf_pages: Mapping[str, list[int]] | None = None) -> etree._ElementTree:
    """Define-XML 2.1 of the datasets written (name -> frame); only their columns are described.
    With ``crf_pages`` ('DATASET.VARIABLE' -> pages of acrf.pdf, written beside it), the annotated
    CRF is named and each collected variable on it points to its pages."""
    plan = _Plan(spec, datasets, value_level, crf_pages)
    root = etree.Element(_q("ODM"), nsmap=NSMAP)
    for key, value in {"FileType": "Snapshot", "FileOID": file_oid, "CreationDateTime": created,
                       "ODMVersion": "1.3.2", _d("Context"): context,
                       "Originator": "aclf-pipeline"}.items():
        root.set(key, value)
    study = _sub(root, _q("Study"), {"OID": f"ST.{spec.study_name}"})
    gv = _sub(study, _q("GlobalVariables"))
    _sub(gv, _q("StudyName")).text = spec.study_name
    _sub(gv, _q("StudyDescription")).text = spec.description
    _sub(gv, _q("ProtocolName")).text = spec.protocol_name
    _metadata_version(study, plan, file_oid)
    return etree.ElementTree(root)


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------

_SCHEMAS: dict[Path, etree.XMLSchema] = {}


def load_schema(path: Path | None = None) -> etree.XMLSchema:
    """The Define-XML 2.1 XSD (odmlib's copy); a missing or unreadable schema raises."""
    path = Path(path or SCHEMA_PATH)
    if path not in _SCHEMAS:
        if not path.is_file():
            raise FileNotFoundError(f"Define-XML 2.1 schema not found: {path}")
        _SCHEMAS[path] = etree.XMLSchema(etree.parse(str(path)))
    return _SCHEMAS[path]


def validate_define(path_or_tree) -> list[str]:
    """XSD errors of a define.xml (a path, an ElementTree or an Element); [] when valid."""
    schema = load_schema(SCHEMA_PATH)
    if isinstance(path_or_tree, (str, Path)):
        doc = etree.parse(str(path_or_tree))
    else:
        doc = path_or_tree
    if schema.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


# ---------------------------------------------------------------------------------------------
# Writing and HTML
# ---------------------------------------------------------------------------------------------

STYLESHEET = Path(__file__).with_name("define2-1.xsl")


def write_define(tree: etree._ElementTree, folder: Path, name: str = "define.xml") -> Path:
    """``define.xml`` and ``define.html`` in ``folder``, and our stylesheet beside them, referenced from
    define.xml (``<?xml-stylesheet?>``) so that a browser renders the XML itself; returns the XML path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    root = tree.getroot()
    if not isinstance(root.getprevious(), etree._ProcessingInstruction):
        root.addprevious(etree.ProcessingInstruction("xml-stylesheet", f'type="text/xsl" href="{STYLESHEET.name}"'))
    tree.write(str(path), encoding="UTF-8", xml_declaration=True, pretty_print=True)
    shutil.copyfile(STYLESHEET, folder / STYLESHEET.name)
    html_path = path.with_suffix(".html")
    html_path.write_text(_defineutils_html(path) or fallback_html(tree), encoding="utf-8")
    return path


def defineutils_stylesheet() -> Path | None:
    """defineutils' Define-XML 2.1 stylesheet (the file its DefineHtml applies), found without importing
    the package: its ``__init__`` imports its validator and xmlschema, 0.3 s of every night for
    nothing the HTML needs. None when defineutils is not installed or no longer ships it there."""
    spec = importlib.util.find_spec("defineutils")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "definehtml" / "define2-1.xsl"
    return path if path.is_file() else None


def _defineutils_html(path: Path) -> str | None:
    """defineutils' Define-XML 2.1 stylesheet applied to the file; None when it cannot render."""
    stylesheet = defineutils_stylesheet()
    if stylesheet is None:
        return None
    try:
        result = etree.XSLT(etree.parse(str(stylesheet)))(etree.parse(str(path)))
    except (OSError, etree.XMLSyntaxError, etree.XSLTError):
        return None
    # Applied here rather than by DefineHtml, which hides errors and serializes as XML (<span/>);
    # str() honours the stylesheet's xsl:output method="html".
    text = str(result)
    return text if text.strip() else None


def _table(headers: list[str], rows: Iterable[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c or '')}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


_NS = {"odm": ODM_NS, "def": DEF_NS}


def _tt(el: etree._Element, tag: str = "Description") -> str:
    return el.findtext(f"odm:{tag}/odm:TranslatedText", default="", namespaces=_NS)


def _attr(el: etree._Element, path: str, name: str) -> str:
    found = el.find(path, _NS)
    return "" if found is None else found.get(name, "")


def _dataset_row(ig: etree._Element, items: Mapping[str, etree._Element]) -> list[str]:
    keys = sorted((r for r in ig.findall("odm:ItemRef", _NS) if r.get("KeySequence")),
                  key=lambda r: int(r.get("KeySequence")))
    return [ig.get("Name"), _tt(ig), _attr(ig, "def:Class", "Name"), ig.get(_d("Structure")),
            ", ".join(items[r.get("ItemOID")].get("Name") for r in keys),
            _attr(ig, "def:leaf", _q("href", XLINK_NS))]


def _variable_row(ref: etree._Element, item: etree._Element) -> list[str]:
    return [item.get("Name"), _tt(item), item.get("DataType"), item.get("Length"),
            _attr(item, "odm:CodeListRef", "CodeListOID"), _attr(item, "def:Origin", "Type"),
            ref.get("MethodOID"), item.get(_d("CommentOID"))]


def _codelist_row(cl: etree._Element) -> list[str]:
    values = [i.get("CodedValue") for i in cl if i.tag in (_q("CodeListItem"), _q("EnumeratedItem"))]
    external = [f"{e.get('Dictionary')} {e.get('Version')}" for e in cl.findall("odm:ExternalCodeList", _NS)]
    return [cl.get("OID"), cl.get("Name"), ", ".join(values or external)]


def fallback_html(tree: etree._ElementTree) -> str:
    """A small self-contained HTML view of a define.xml (datasets, variables, codelists, methods,
    comments), for when defineutils cannot render."""
    mdv = tree.getroot().find(".//odm:MetaDataVersion", _NS)
    items = {el.get("OID"): el for el in mdv.findall("odm:ItemDef", _NS)}
    groups = mdv.findall("odm:ItemGroupDef", _NS)
    title = html.escape(tree.getroot().findtext(".//odm:StudyName", default="", namespaces=_NS))
    parts = [f"<h1>Define-XML 2.1: {title}</h1><h2>Datasets</h2>",
             _table(["Dataset", "Label", "Class", "Structure", "Keys", "Location"],
                    (_dataset_row(ig, items) for ig in groups))]
    for ig in groups:
        parts.append(f"<h2>{html.escape(ig.get('Name'))}: {html.escape(_tt(ig))}</h2>")
        parts.append(_table(["Variable", "Label", "Type", "Length", "Codelist", "Origin", "Method", "Comment"],
                            (_variable_row(r, items[r.get("ItemOID")]) for r in ig.findall("odm:ItemRef", _NS))))
    parts += ["<h2>Codelists</h2>", _table(["Codelist", "Name", "Values"],
                                           map(_codelist_row, mdv.findall("odm:CodeList", _NS))),
              "<h2>Methods</h2>", _table(["Method", "Name", "Type", "Description"], (
                  [m.get("OID"), m.get("Name"), m.get("Type"), _tt(m)] for m in mdv.findall("odm:MethodDef", _NS))),
              "<h2>Comments</h2>", _table(["Comment", "Text"], (
                  [c.get("OID"), _tt(c)] for c in mdv.findall("def:CommentDef", _NS)))]
    style = "body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} define</title>'
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")
