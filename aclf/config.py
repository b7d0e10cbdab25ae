"""Study configuration: load and validate the versioned YAML under ``study/``.

Every study fact (sites, dialects, visits, windows, tests) comes from here; a configuration that
does not validate stops the pipeline with a message naming the file and the field.
"""
from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, Union

import yaml
from pydantic import (BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator,
                      model_validator)

DEFAULT_STUDY_DIR = Path(__file__).resolve().parents[1] / "study"

LAB_FIELDS = ("subject", "visit", "sample_id", "test", "result", "unit",
              "ref_low", "ref_high", "ref_range", "flag", "comment")


class ConfigError(ValueError):
    """The study configuration is broken; the message names the file and the problem."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileSpec(_Model):
    """How a source names and encodes its transfers (DTS rules 3 and 4)."""

    prefix: str
    format: Literal["delimited", "excel", "spss", "folder"]
    extension: str | None = None
    encoding: str = "utf-8"
    delimiter: str = ","
    quoted: bool = True          # '"' encloses a field (CSV); false: a quote is text (free-text columns)
    sheet: str | None = None
    manifest: str = "MANIFEST.sha256"

    @model_validator(mode="after")
    def _extension_for_files(self):
        if self.format != "folder" and not self.extension:
            raise ValueError(f"format {self.format!r} needs an extension")
        return self

    @cached_property
    def name_pattern(self) -> re.Pattern:
        """``<PREFIX>_<YYYYMMDD>[_<n>][.<ext>]``."""
        ext = "" if self.format == "folder" else r"\." + re.escape(self.extension)
        return re.compile(rf"^{re.escape(self.prefix)}_(?P<date>[0-9]{{8}})(?:_(?P<seq>[2-9]|[1-9][0-9]+))?{ext}$")


class DateTimeSpec(_Model):
    column: str
    format: str  # a strptime format, or "native" when the reader yields a date/datetime value


class CollectedSpec(_Model):
    """Where the collection date-time is: one datetime column, or a date and an optional time."""

    datetime: DateTimeSpec | None = None
    date: DateTimeSpec | None = None
    time: DateTimeSpec | None = None

    @model_validator(mode="after")
    def _one_way(self):
        if (self.datetime is None) == (self.date is None):
            raise ValueError("give either 'datetime' or 'date' (with an optional 'time')")
        if self.datetime is not None and self.time is not None:
            raise ValueError("'time' goes with 'date', not with 'datetime'")
        return self

    @property
    def columns(self) -> list[str]:
        return [s.column for s in (self.datetime, self.date, self.time) if s is not None]


def _needs_group(pattern: str, group: str, what: str) -> str:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"the {what} is not a valid regular expression: {exc}") from None
    if group not in compiled.groupindex:
        raise ValueError(f"the {what} needs a named group '{group}'")
    return pattern


class SubjectSpec(_Model):
    pattern: str
    expected: str | None = None   # how a person would describe it, for messages ("01-NNN")

    @field_validator("pattern")
    @classmethod
    def _has_num(cls, v: str) -> str:
        return _needs_group(v, "num", "subject pattern")


class ReferenceSheetSpec(_Model):
    sheet: str
    test: str
    low: str
    high: str
    unit: str | None = None


class WideSpec(_Model):
    header_pattern: str
    reference_sheet: ReferenceSheetSpec | None = None

    @field_validator("header_pattern")
    @classmethod
    def _has_test(cls, v: str) -> str:
        return _needs_group(v, "test", "header pattern")


class LabDialect(_Model):
    """A site laboratory export: how to read it and map it to the long staging shape."""

    source: str
    kind: Literal["lab"]
    site_id: Annotated[str, Field(pattern=r"^\d{2}$")]
    file: FileSpec
    layout: Literal["long", "wide"]
    columns: dict[str, Union[str, list[str]]]
    personal: list[str] = []
    ignored: list[str] = []
    subject: SubjectSpec
    collected: CollectedSpec
    decode: dict[str, dict[str, str]] = {}
    visits: dict[str, str]
    tests: dict[str, str]
    # the LOINC code of what the lab measures, by local test code, where it is not the study test's own
    # analyte (study/lab.yaml): one code, or one per unit (CDISC units) the test is sent in
    loinc: dict[str, str | dict[str, str]] = {}
    # the units (CDISC) the transfer specification lets a local test be sent in, where it names them:
    # a result in another unit is not converted (a finding), even if the study test converts from it
    units: dict[str, Annotated[list[str], Field(min_length=1)]] = {}
    wide: WideSpec | None = None
    query_languages: list[str] = ["en"]    # the languages of the site's query listing, in order

    @model_validator(mode="after")
    def _columns_fit_layout(self):
        unknown = set(self.columns) - set(LAB_FIELDS)
        if unknown:
            raise ValueError(f"unknown lab fields {sorted(unknown)}; allowed: {list(LAB_FIELDS)}")
        required = {"subject", "sample_id"} | ({"test", "result"} if self.layout == "long" else set())
        missing = required - set(self.columns)
        if missing:
            raise ValueError(f"layout {self.layout!r} needs columns for {sorted(missing)}")
        if (self.layout == "wide") != (self.wide is not None):
            raise ValueError("the 'wide' section goes with layout 'wide' and only with it")
        for key in ("loinc", "units"):
            if set(getattr(self, key)) - set(self.tests):
                raise ValueError(f"{key} names local tests not in 'tests': "
                                 f"{sorted(set(getattr(self, key)) - set(self.tests))}")
        return self

    def source_columns(self, field: str) -> list[str]:
        """The file columns that feed a staging field (several = first non-empty wins)."""
        value = self.columns.get(field, [])
        return [value] if isinstance(value, str) else list(value)

    @property
    def read_columns(self) -> list[str]:
        """Every column the reader loads; personal and ignored columns are never read."""
        cols = [c for f in self.columns for c in self.source_columns(f)] + self.collected.columns
        return list(dict.fromkeys(cols))


class FormSpec(_Model):
    """One EDC form (or the IWRS list): its file, loaded columns, key and personal columns."""

    file: str | None = None
    key: list[str]
    columns: list[str]
    subject: str = "SUBJID"
    personal: list[str] = []
    values: dict[str, list[str]] = {}                 # allowed values ('' allowed unless required)
    # ... of which columns SDTM's derivations turn on (an infusion given, an end of study's status): an
    # invalid value is kept, and so refuses the package, instead of being blanked into a wrong answer
    kept_if_invalid: list[str] = []
    required: list[str] = []                          # columns the DTS does not let be empty (else a finding)
    dates: list[str] = []                             # ISO 8601 date(-time) columns
    partial_dates: list[str] = []                     # ... of which partial dates (YYYY, YYYY-MM) are legal
    ranges: dict[str, tuple[float, float]] = {}       # numeric range (when not empty)
    # Rows only stage-2-randomized subjects have (column -> values): they reveal the stage-1 arm, so
    # blinded outputs neither show nor count them (aclf.blinding.stage2_rows).
    stage2_rows: dict[str, list[str]] = {}

    @model_validator(mode="after")
    def _key_in_columns(self):
        missing = [c for c in [*self.key, self.subject] if c not in self.columns]
        if missing:
            raise ValueError(f"key/subject columns {missing} are not in the form's columns")
        unknown = sorted((set(self.values) | set(self.kept_if_invalid) | set(self.required) | set(self.ranges)
                          | set(self.dates) | set(self.partial_dates) | set(self.stage2_rows)) - set(self.columns))
        if unknown:
            raise ValueError(f"value rules name columns {unknown} that the form does not load")
        if set(self.stage2_rows) - set(self.key):
            raise ValueError("stage2_rows must name key columns (a stage-2 row is known by its key)")
        overlap = set(self.personal) & set(self.columns)
        if overlap:
            raise ValueError(f"columns {sorted(overlap)} are both loaded and personal")
        return self


class FormsSource(_Model):
    """A source of CRF-like tables: the EDC folder or the IWRS list."""

    source: str
    kind: Literal["forms"]
    file: FileSpec
    forms: dict[str, FormSpec]

    @model_validator(mode="after")
    def _files_named(self):
        if self.file.format == "folder" and any(f.file is None for f in self.forms.values()):
            raise ValueError("every form of a folder source names its file")
        if self.file.format != "folder" and len(self.forms) != 1:
            raise ValueError("a single-file source holds exactly one form")
        return self


Source = Annotated[Union[LabDialect, FormsSource], Field(discriminator="kind")]
_SOURCE_ADAPTER = TypeAdapter(Source)


class RuleSpec(_Model):
    """A findings rule: its family (one Dagster check each), severity, who answers it (the site, the
    medical coder, or the data manager for items that ask nothing) and the query in words, per
    language (``en`` always; a site reads the languages of its ``query_languages``)."""

    family: str
    severity: Literal["high", "medium", "low"]
    audience: Literal["site", "coder", "data_manager"] = "site"
    query: dict[str, str]

    @model_validator(mode="after")
    def _english_text(self):
        if not self.query.get("en"):
            raise ValueError("query needs an English text (en)")
        return self


class Visit(_Model):
    code: str
    visitnum: int
    label: str
    target_day: int
    window: tuple[int, int]
    labs: bool


class TransferRules(_Model):
    """Landing-zone judgements that are study policy, not code (``transfers:`` in study.yaml)."""

    future_date_tolerance_days: Annotated[int, Field(ge=0, le=7)] = 1
    """A transfer dated later than the run's date (study time zone) plus this is rejected."""
    max_record_loss_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    """A snapshot with fewer records than (1 - this) x those in force is held as possibly truncated."""


class StudyInfo(_Model):
    studyid: str
    title: str
    timezone: str
    subjid_pattern: str


class LabTest(_Model):
    """A study test: its name, category (LBCAT), protocol standard unit, conversions, plausible range
    and LOINC code: one, or one per unit the test is sent in where the units measure different
    properties (bilirubin in umol/L is a substance concentration, 14631-6; in mg/dL a mass one, 1975-2)."""

    name: str
    category: str = ""
    loinc: str | dict[str, str] | None = None
    standard_unit: str
    decimals: int
    plausible: tuple[float, float]
    convert: dict[str, str]

    @model_validator(mode="after")
    def _loinc_per_unit(self):
        if isinstance(self.loinc, dict) and set(self.loinc) != set(self.convert):
            raise ValueError(f"loinc lists units {sorted(self.loinc)}; the test converts from {sorted(self.convert)}")
        return self

    def loinc_of(self, unit: str | None) -> str:
        """The LOINC code of a result sent in ``unit`` (a CDISC unit), else the standard unit's (for a
        test not done: cdisc.sdtm.lb gives a result in a unit without a code none)."""
        if not isinstance(self.loinc, dict):
            return self.loinc or ""
        return self.loinc.get(unit) or self.loinc[self.standard_unit]

    @field_validator("convert")
    @classmethod
    def _fractions(cls, v: dict[str, str]) -> dict[str, str]:
        for unit, factor in v.items():
            if not re.fullmatch(r"\d+(\.\d+)?(/\d+(\.\d+)?)?", factor):
                raise ValueError(f"factor {factor!r} for {unit!r} is not 'a' or 'a/b' in decimals")
        return v


class Eligibility(_Model):
    screening_visit: str
    baseline_visit: str
    tbil_min_mg_dl: float
    inr_min: float
    ptac_max_exclusive: float
    age: tuple[int, int]
    he_grade_excluding: int
    prior_platelets_min: float
    prior_child_pugh_max: float


class LabConfig(_Model):
    """``lab.yaml``: tests, unit spellings, not-done texts, eligibility thresholds."""

    tests: dict[str, LabTest]
    units: dict[str, list[str]]
    not_done: dict[str, list[str]]
    empty_result: str
    eligibility: Eligibility

    @model_validator(mode="after")
    def _consistent(self):
        spelled = [s for spellings in self.units.values() for s in spellings]
        twice = sorted({s for s in spelled if spelled.count(s) > 1})
        if twice:
            raise ValueError(f"unit spellings listed under two units: {twice}")
        for code, test in self.tests.items():
            unknown = sorted((set(test.convert) | {test.standard_unit}) - set(self.units))
            if unknown:
                raise ValueError(f"tests.{code}: units {unknown} are not in 'units'")
        for reason, texts in self.not_done.items():
            if not reason.isascii():
                raise ValueError(f"not_done reason {reason!r} must be ASCII")
        return self

    @cached_property
    def unit_of_spelling(self) -> dict[str, str]:
        return {spelling: unit for unit, spellings in self.units.items() for spelling in spellings}

    @cached_property
    def reason_of_text(self) -> dict[str, str]:
        return {text.casefold(): reason for reason, texts in self.not_done.items() for text in texts}


class Study(_Model):
    """The whole validated configuration."""

    study: StudyInfo
    visits: list[Visit]
    unscheduled_visit: str
    transfers: TransferRules = TransferRules()
    lab: LabConfig
    rules: dict[str, RuleSpec]
    source_names: list[str] = Field(alias="sources")
    sources: dict[str, Source] = Field(default_factory=dict, alias="loaded_sources")
    directory: Path | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _cross_checks(self):
        codes = {v.code for v in self.visits} | {self.unscheduled_visit}
        for src in self.sources.values():
            if isinstance(src, LabDialect):
                bad_visits = sorted(set(src.visits.values()) - codes)
                bad_tests = sorted(set(src.tests.values()) - set(self.lab.tests))
                if bad_visits:
                    raise ValueError(f"{src.source}: visits map to unknown visit codes {bad_visits}")
                if bad_tests:
                    raise ValueError(f"{src.source}: tests map to unknown LBTESTCD {bad_tests}")
                named = [("loinc", raw, code) for raw, code in src.loinc.items() if isinstance(code, dict)]
                for what, raw, units in named + [("units", raw, units) for raw, units in src.units.items()]:
                    unknown = sorted(set(units) - set(self.lab.tests[src.tests[raw]].convert))
                    if unknown:
                        raise ValueError(f"{src.source}: {what} of {raw} lists {unknown}, "
                                         f"which {src.tests[raw]} does not convert from")
                for language in src.query_languages:
                    untold = sorted(r for r, spec in self.rules.items() if not spec.query.get(language))
                    if untold:
                        raise ValueError(f"{src.source}: query language {language!r} has no text for rules {untold}")
        return self

    @cached_property
    def visit_by_code(self) -> dict[str, Visit]:
        return {v.code: v for v in self.visits}

    def form(self, name: str) -> tuple[str, FormSpec]:
        """The source holding a form, and the form's spec."""
        for source in self.sources.values():
            if isinstance(source, FormsSource) and name in source.forms:
                return source.source, source.forms[name]
        raise KeyError(f"no source holds a form named {name!r}")

    @property
    def forms(self) -> dict[str, FormSpec]:
        """Every form of every forms source (EDC and IWRS), by name."""
        return {name: spec for source in self.sources.values() if isinstance(source, FormsSource)
                for name, spec in source.forms.items()}

    @property
    def families(self) -> list[str]:
        return sorted({r.family for r in self.rules.values()})

    @property
    def query_languages(self) -> dict[str, list[str]]:
        """Each site's listing languages."""
        return {s.site_id: s.query_languages for s in self.lab_sources}

    @property
    def site_ids(self) -> list[str]:
        return [s.site_id for s in self.lab_sources]

    @property
    def lab_sources(self) -> list[LabDialect]:
        return [s for s in self.sources.values() if isinstance(s, LabDialect)]

    @property
    def agreed_units(self) -> dict[tuple[str, str], list[str]]:
        """The units each (source, local test) may be sent in, where its dialect names them."""
        return {(s.source, raw): units for s in self.lab_sources for raw, units in s.units.items()}


def safe_load(text: str):
    """yaml.safe_load with libyaml's C parser where PyYAML has it (the same safe subset, several
    times faster: a night reads some sixty configuration files, some of them more than once)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _read_yaml(path: Path) -> dict:
    try:
        data = safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _explain(path: Path, exc: ValidationError) -> ConfigError:
    lines = [f"{path}: invalid configuration"]  # one line per problem, with its field path
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  - {where}: {err['msg']}")
    return ConfigError("\n".join(lines))


def load_model(path: Path, model: type[BaseModel], what: str):
    """A YAML file validated into a pydantic model; a ConfigError naming the file otherwise."""
    try:
        return model.model_validate(safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc}") from None
    except ValidationError as exc:
        raise _explain(path, exc) from None


def load_study(directory: str | Path | None = None) -> Study:
    """Load ``study.yaml`` and ``sources/<name>.yaml`` for each listed source."""
    directory = Path(directory or DEFAULT_STUDY_DIR)
    main_path = directory / "study.yaml"
    data = _read_yaml(main_path)
    sources: dict[str, Source] = {}
    for name in data.get("sources", []):
        path = directory / "sources" / f"{name}.yaml"
        if not path.exists():
            raise ConfigError(f"{main_path}: source {name!r} is listed but {path} does not exist")
        raw = _read_yaml(path)
        try:
            src = _SOURCE_ADAPTER.validate_python(raw)
        except ValidationError as exc:
            raise _explain(path, exc) from None
        if src.source != name:
            raise ConfigError(f"{path}: 'source' is {src.source!r} but the file is listed as {name!r}")
        sources[name] = src
    lab_path = directory / "lab.yaml"
    try:
        lab = LabConfig.model_validate(_read_yaml(lab_path))
    except ValidationError as exc:
        raise _explain(lab_path, exc) from None
    rules_path = directory / "findings.yaml"
    rules = _read_yaml(rules_path).get("rules", {})
    try:
        return Study.model_validate({**data, "lab": lab, "rules": rules, "loaded_sources": sources,
                                     "directory": directory})
    except ValidationError as exc:
        raise _explain(main_path, exc) from None



def config_hash(directory: str | Path | None = None) -> str:
    """SHA-256 over a study folder's files, names and bytes: which configuration a run used."""
    import hashlib

    root = Path(directory or DEFAULT_STUDY_DIR)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
