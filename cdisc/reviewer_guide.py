"""The reviewer's guides written with each package: a clinical SDRG beside the SDTM define.xml and an
ADRG skeleton beside the ADaM one (sections after the PHUSE templates), from the spec, the trial
design, the night's datasets and ``study/reviewer_guide.yaml`` (what remains by design, and why)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, ValidationError

from aclf.config import ConfigError, DEFAULT_STUDY_DIR, safe_load
from aclf.version import PACKAGE, code_version
from cdisc.spec import Spec

FILES = {"SDTMIG": "csdrg.html", "ADaMIG": "adrg.html"}
TITLES = {"SDTMIG": ("Clinical Study Data Reviewer's Guide", "cSDRG"),
          "ADaMIG": ("Analysis Data Reviewer's Guide", "ADRG")}


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dictionary(_Entry):
    name: str
    version: str
    used_for: str


class Check(_Entry):
    what: str
    rules: str


class Issue(_Entry):
    dataset: str
    rule: str
    explanation: str


class GuideConfig(_Entry):
    sponsor: str
    design: str                          # the protocol in a paragraph
    blinding: dict[str, str]             # area -> what it shows and withholds
    dictionaries: list[Dictionary]
    checks: list[Check]
    issues: list[Issue]


def load_guide_config(path: Path | None = None) -> GuideConfig:
    path = path or DEFAULT_STUDY_DIR / "reviewer_guide.yaml"
    try:
        return GuideConfig.model_validate(safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: invalid reviewer's guide configuration: {exc}") from None


def _methods(spec: Spec, datasets: dict[str, pd.DataFrame]) -> list[dict]:
    used: dict[str, list[str]] = {}
    for name, frame in datasets.items():
        for var in spec.datasets[name].variables:
            if var.name not in frame.columns:
                continue
            if var.method:
                used.setdefault(var.method, []).append(f"{name}.{var.name}")
            for value, method in (var.by.methods.items() if var.by else []):
                used.setdefault(method, []).append(f"{name}.{var.name} ({var.by.variable} = {value})")
    return [{"name": m.name, "description": m.description, "used_by": ", ".join(used[m.id])}
            for m in spec.methods.values() if m.id in used]


def _arms(ta: pd.DataFrame) -> list[dict]:
    """The arms as the area's TA shows them, each with its elements in order."""
    ordered = ta.sort_values(["ARMCD", "TAETORD"])
    return [{"armcd": armcd, "arm": rows["ARM"].iloc[0], "elements": " → ".join(rows["ELEMENT"])}
            for armcd, rows in ordered.groupby("ARMCD", sort=False)]


def render_guide(spec: Spec, datasets: dict[str, pd.DataFrame], ta: pd.DataFrame, config: GuideConfig, *,
                 area: str, created: str, data_cut: str | None) -> tuple[str, str]:
    """(file name, HTML) of the package's guide; only the issues of datasets in the package."""
    title, template = TITLES[spec.standard]
    names = set(datasets)
    env = Environment(loader=PackageLoader("cdisc", "templates"), autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template("reviewer_guide.html.j2").render(
        title=title, template=template, study=spec.study_name, standard=spec.standard, version=spec.version,
        area=area, data_cut=data_cut or created[:10], created=created, generator=f"{PACKAGE} {code_version()}",
        description=spec.description, dictionaries=config.dictionaries, sponsor=config.sponsor,
        design_text=config.design,
        arms=_arms(ta),
        blinding=config.blinding[area],
        datasets=[{"name": ds.name, "label": ds.label, "class_": ds.class_, "structure": ds.structure,
                   "key_variables": ", ".join(ds.keys), "records": len(datasets[ds.name])}   # not "keys": a dict method in jinja
                  for ds in spec.datasets.values() if ds.name in names],
        methods=_methods(spec, datasets), checks=config.checks,
        issues=[i for i in config.issues if i.dataset == "*" or i.dataset in names],
        tonight=f"{len(datasets)} datasets passed every check above and were written with define.xml; "
                "a package that fails a check is not written (the one of an earlier night stays, and the run "
                "report says why).")
    return FILES[spec.standard], html
