"""Trial design configuration (``study/sdtm/trial_design.yaml``): arms, elements, blinding, TS, TI."""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from aclf.config import DEFAULT_STUDY_DIR, load_model


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Blinding(_Model):
    unblinding_authorized: bool
    armcd: str
    arm: str
    treatment: str
    stage2_visits: list[str]


class Element(_Model):
    etcd: str
    element: str
    testrl: str
    teenrl: str
    tedur: str | None = None
    epoch: str


class Arm(_Model):
    armcd: str
    arm: str
    elements: list[str]


class Parameter(_Model):
    parmcd: str
    parm: str
    val: str
    valcd: str | None = None
    vcdref: str | None = None


class Criterion(_Model):
    code: str
    cat: str
    text: str


class Epochs(_Model):
    screening: str
    treatment_1: str
    follow_up: str


class Assessment(_Model):
    """An EDC clinical assessment column classified in RS."""

    column: str
    testcd: str
    test: str
    cat: str
    numeric: bool = False


class Design(_Model):
    blinding: Blinding
    screen_failure: dict[str, str]
    country: str
    lab_name: str
    etiology_terms: dict[str, str]
    route: str
    dose_unit: str
    treatment_1_days: int
    epochs: Epochs
    assessments: list[Assessment]
    elements: list[Element]
    arms: list[Arm]
    branches: dict[str, str]
    trial_summary: list[Parameter]
    criteria: list[Criterion]


def load_design(directory: str | Path | None = None) -> Design:
    path = Path(directory or DEFAULT_STUDY_DIR / "sdtm") / "trial_design.yaml"
    return load_model(path, Design, "trial design")
