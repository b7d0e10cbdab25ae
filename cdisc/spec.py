"""The tabulation specification: every fact about a dataset, its variables, codelists, methods and
comments, in one place (``study/sdtm/``), in the spirit of a Pinnacle 21 / metacore spec.

The XPT writer, its checks and define.xml all read this, so they cannot disagree.
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from aclf.config import ConfigError, DEFAULT_STUDY_DIR, safe_load
from cdisc.ct import check_codelists, load_ct, with_ct_codes

DataType = Literal["text", "integer", "float", "date", "datetime", "partialDatetime", "durationDatetime"]
NUMERIC_TYPES = {"integer", "float"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValueSplit(_Model):
    """Value-level metadata of a variable by another variable's value: a codelist (DSDECOD by DSCAT)
    and/or a method (ADSCORE.AVAL by PARAMCD) per value; define.xml writes one ItemDef per value."""

    variable: str
    codelists: dict[str, str] = {}      # value of `variable` -> codelist id
    methods: dict[str, str] = {}        # value of `variable` -> method id

    @property
    def values(self) -> list[str]:
        return list(dict.fromkeys([*self.codelists, *self.methods]))


class Variable(_Model):
    """One variable: name, label, type, length rule, codelist, origin, core, method/comment."""

    name: str
    label: str
    type: DataType
    core: Literal["Req", "Exp", "Perm"]
    origin: Literal["Collected", "Derived", "Assigned", "Protocol", "Predecessor", "Not Available"]
    role: str | None = None
    length: int | None = None          # text: None = the longest value (at least 1); numbers: 8
    codelist: str | None = None
    by: ValueSplit | None = None        # value-level metadata by another variable
    method: str | None = None           # a method id (origin Derived)
    comment: str | None = None          # a comment id
    source: str | None = None           # where the value comes from (for people: CRF field, file)
    significant_digits: int | None = None
    display_format: str | None = None   # SAS format written to the XPT (DATE9. for numeric dates)
    areas: list[Literal["blinded", "unblinded"]] = ["blinded", "unblinded"]   # where it may be written

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC_TYPES


class Dataset(_Model):
    name: str
    label: str
    class_: str
    subclass: str | None = None         # define.xml def:SubClass (ADaM: TIME-TO-EVENT, ADVERSE EVENT)
    structure: str
    keys: list[str]
    variables: list[Variable]
    comment: str | None = None
    repeating: bool = True
    reference: bool = False
    value_level: str | None = None      # a variable whose values get value-level metadata (LBTESTCD)
    areas: list[Literal["blinded", "unblinded"]] = ["blinded", "unblinded"]   # where it may be written
    required_populated: bool = True     # SDTM: a Req value is never null; ADaM: a Req variable is present
    inputs: list[str] = []              # ADaM: the datasets it is built from (lineage in Dagster)
    collected_by: Literal["Investigator", "Vendor", "Subject", "Sponsor"] = "Investigator"   # define.xml Origin Source

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _keys_are_variables(self):
        names = [v.name for v in self.variables]
        missing = [k for k in self.keys if k not in names]
        if missing:
            raise ValueError(f"keys {missing} are not variables of {self.name}")
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name} lists a variable twice")
        return self

    @cached_property
    def variable(self) -> dict[str, Variable]:
        return {v.name: v for v in self.variables}

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.variables]


class Term(_Model):
    value: str
    decode: str | None = None
    nci: str | None = None              # NCI C-code of the term, where the spec records it
    extended: bool = False              # a sponsor extension of an extensible CDISC codelist


class Codelist(_Model):
    id: str
    name: str
    type: Literal["text", "integer", "float"] = "text"
    nci: str | None = None              # NCI C-code of the codelist
    extensible: bool = False
    terms: list[Term] = []
    dictionary: str | None = None       # an external dictionary instead of terms (MedDRA)
    version: str | None = None


class Method(_Model):
    id: str
    name: str
    type: Literal["Computation", "Imputation"] = "Computation"
    description: str


class Comment(_Model):
    id: str
    text: str


class Spec(_Model):
    """The whole tabulation spec of one standard (SDTMIG 3.4 here)."""

    standard: str
    version: str
    ct_version: str
    study_name: str
    protocol_name: str
    description: str
    datasets: dict[str, Dataset]
    codelists: dict[str, Codelist]
    methods: dict[str, Method]
    comments: dict[str, Comment]

    @model_validator(mode="after")
    def _references_resolve(self):
        problems = []
        for cl in self.codelists.values():
            if any(t.extended for t in cl.terms) and not cl.extensible:
                problems.append(f"{cl.id}: extended terms in a codelist that is not extensible")
        for ds in self.datasets.values():
            if ds.comment and ds.comment not in self.comments:
                problems.append(f"{ds.name}: comment {ds.comment} is not defined")
            for v in ds.variables:
                where = f"{ds.name}.{v.name}"
                for cl in [v.codelist] + list(v.by.codelists.values() if v.by else []):
                    if cl and cl not in self.codelists:
                        problems.append(f"{where}: codelist {cl} is not defined")
                for method in [v.method] + list(v.by.methods.values() if v.by else []):
                    if method and method not in self.methods:
                        problems.append(f"{where}: method {method} is not defined")
                if v.comment and v.comment not in self.comments:
                    problems.append(f"{where}: comment {v.comment} is not defined")
                if v.origin == "Derived" and not v.method:
                    problems.append(f"{where}: a derived variable needs a method")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def for_area(spec: Spec, area: str) -> Spec:
    """The spec as one output area sees it: datasets and variables not allowed there (treatment
    assignment in the blinded area) are left out."""
    datasets = {name: ds.model_copy(update={"variables": [v for v in ds.variables if area in v.areas]})
                for name, ds in spec.datasets.items() if area in ds.areas}
    for ds in datasets.values():
        ds.__dict__.pop("variable", None)      # drop the cached lookup of the full variable list
    return spec.model_copy(update={"datasets": datasets})


def _yaml(path: Path) -> dict:
    try:
        return safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read YAML: {exc}") from exc


def load_spec(directory: str | Path | None = None, check_ct: bool = True) -> Spec:
    """``spec.yaml`` (standard, codelists, methods, comments) and ``datasets/<name>.yaml``, its
    CDISC codelists checked against the pinned terminology (``../ct/sdtm_ct.yaml``), whose NCI codes
    they take."""
    directory = Path(directory or DEFAULT_STUDY_DIR / "sdtm")
    main = _yaml(directory / "spec.yaml")
    datasets = {}
    for path in sorted((directory / "datasets").glob("*.yaml")):
        raw = _yaml(path)
        raw["class_"] = raw.pop("class", None)
        raw.setdefault("required_populated", not str(main.get("standard", "")).startswith("ADaM"))
        try:
            ds = Dataset.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(f"{path}: invalid dataset spec: {exc}") from None
        datasets[ds.name] = ds
    try:
        spec = Spec.model_validate({
            **{k: v for k, v in main.items() if k not in ("codelists", "methods", "comments")},
            "datasets": datasets,
            "codelists": {c["id"]: c for c in main.get("codelists", [])},
            "methods": {m["id"]: m for m in main.get("methods", [])},
            "comments": {c["id"]: c for c in main.get("comments", [])},
        })
    except ValidationError as exc:
        raise ConfigError(f"{directory / 'spec.yaml'}: invalid specification: {exc}") from None
    return pinned(spec, directory / "spec.yaml", directory.parent / "ct" / "sdtm_ct.yaml") if check_ct else spec


def pinned(spec: Spec, where: Path, ct_file: Path) -> Spec:
    """The spec with its CDISC terms' NCI codes from the pinned release; a ConfigError listing every
    term the release lacks that is not declared an extension (or a release other than the spec's)."""
    ct = load_ct(ct_file)
    problems = check_codelists(spec.codelists.values(), ct)
    if ct.release != spec.ct_version:
        problems.insert(0, f"ct_version {spec.ct_version} but the pinned release is {ct.release}")
    if problems:
        raise ConfigError(f"{where}: controlled terminology: " + "; ".join(problems))
    return spec.model_copy(update={"codelists": with_ct_codes(spec.codelists, ct)})

