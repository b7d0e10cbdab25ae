"""Trial design configuration (``study/sdtm/trial_design.yaml``): arms, elements, blinding, TS, TI."""
from __future__ import annotations

from pathlib import Path

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from aclf.config import DEFAULT_STUDY_DIR, FileSpec, load_model


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


LEVELS = ["blinded", "stage1", "full"]


class Blinding(_Model):
    armcd: str
    arm: str
    treatment: str
    stage2_treatment: str
    dose_form: str                     # the masked product's form: one every product has (EC.ECDOSFRM)
    key_folder: str
    key: FileSpec


class Product(_Model):
    """What an IWRS treatment is in the unblinded area: EX/EC name, TRTxxP/N, dose, elements."""

    name: str
    trt: str
    trtn: int
    dose: float | None = None          # None: the collected volume is the dose
    dose_unit: str
    dose_form: str                     # EX.EXDOSFRM, EC.ECDOSFRM (CDISC FRM)
    stage1_element: str
    stage2_element: str


class MaskedStage2(_Model):
    trt: str
    trtn: int
    element: str


class Element(_Model):
    etcd: str
    element: str
    testrl: str
    teenrl: str
    tedur: str | None = None
    epoch: str
    levels: list[Literal["blinded", "stage1", "full"]] = LEVELS


class Arm(_Model):
    armcd: str
    arm: str
    elements: list[str]
    stage1: str | None = None          # IWRS treatment of stage 1 (None: the blinded arm)
    stage2: str | None = None          # of stage 2 (MASKED at the stage-1-only level); None: not re-randomized
    levels: list[Literal["blinded", "stage1", "full"]] = LEVELS


class Branch(_Model):
    """TABRANCH: the randomization that ends an element, in the arms that pass through it."""

    text: str
    arms: list[str]


class IeMapping(_Model):
    """Where IE's criteria not met come from: screen-failure reasons and eligibility rules."""

    visit: str
    screen_failure_reasons: dict[str, str]
    rules: dict[str, str]


class Complications(_Model):
    category: str
    events: dict[str, str]              # EDC clinical assessment column -> CETERM


class DialysisQuestion(_Model):
    column: str
    term: str
    category: str
    interval: str                       # PREVLINT (ISO 8601 duration, negative: before the assessment)


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
    treatment_2: str
    follow_up: str


class Assessment(_Model):
    """An EDC clinical assessment column classified in RS."""

    column: str
    testcd: str
    test: str
    cat: str
    numeric: bool = False
    results: dict[str, str] = {}       # collected value -> RSSTRESC, where CDISC terminology names the results


class Design(_Model):
    blinding: Blinding
    screen_failure: dict[str, str]
    not_treated: dict[str, str]
    not_assigned: dict[str, str]
    in_screening: dict[str, str]
    ethnic: dict[str, str]
    sex_unknown: str                      # DM.SEX (required) of a subject whose sex the EDC holds no valid code for
    products: dict[str, Product]
    masked_stage2: MaskedStage2
    country: str
    lab_name: str
    etiology_category: str                # MH.MHCAT of the etiology record (ADSL.ETIOL reads it)
    etiology_terms: dict[str, str]
    route: str
    dose_unit: str
    treatment_1_days: int
    treatment_2_days: int
    epochs: Epochs
    assessments: list[Assessment]
    elements: list[Element]
    arms: list[Arm]
    branches: dict[str, Branch]
    trial_summary: list[Parameter]
    criteria: list[Criterion]
    ie: IeMapping
    complications: Complications
    dialysis: DialysisQuestion

    @model_validator(mode="after")
    def _criteria_exist(self):
        codes = {c.code for c in self.criteria}
        unknown = sorted((set(self.ie.screen_failure_reasons.values()) | set(self.ie.rules.values())) - codes)
        if unknown:
            raise ValueError(f"ie maps to criteria that TI does not have: {unknown}")
        return self


def load_design(directory: str | Path | None = None) -> Design:
    path = Path(directory or DEFAULT_STUDY_DIR / "sdtm") / "trial_design.yaml"
    return load_model(path, Design, "trial design")


def arm_of(design: Design, level: str) -> dict[tuple[str, str | None], Arm]:
    """(stage-1 treatment, stage-2 treatment or None) -> the arm shown at an unblinding level."""
    return {(a.stage1, a.stage2): a for a in design.arms if level in a.levels}
