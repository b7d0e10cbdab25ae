"""Analysis conventions (``study/adam/analysis.yaml``): the ADaM side's study facts."""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from aclf.config import DEFAULT_STUDY_DIR, load_model


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Graded(_Model):
    """A clinical classification used by a score: its RS test code and the values a score accepts."""

    testcd: str
    valid: list[str]


class Dialysis(_Model):
    """Where the MELD creatinine rule reads dialysis: SDTM PR, pre-specified at each assessment."""

    prtrt: str
    occurred: str                       # PROCCUR meaning "dialysed at least twice in the prior week"


class Scores(_Model):
    parameters: dict[str, str]          # PARAMCD -> PARAM
    lab: dict[str, str]                 # component -> ADLB PARAMCD
    encephalopathy: Graded
    ascites: Graded
    dialysis: Dialysis


class Figure(_Model):
    file: str                           # file name without extension, under <area>/figures/
    dataset: str
    paramcd: str
    metadata: str                       # the metadata key the figure is shown under in Dagster
    title: str


class Figures(_Model):
    km: Figure
    trajectories: list[Figure]


class Analysis(_Model):

    meld_e0_etiologies: list[str]       # MH.MHTERMs (biliary or alcoholic) with E = 0 in the protocol MELD
    age_groups: list[tuple[float, float, str]]
    on_treatment_window_days: int
    tte_cutoff_day: int
    reporting_weeks: list[int]
    stage_2_day: int
    score_visits: list[str]
    scores: Scores
    figures: Figures


def load_analysis(directory: str | Path | None = None) -> Analysis:
    path = Path(directory or DEFAULT_STUDY_DIR / "adam") / "analysis.yaml"
    return load_model(path, Analysis, "analysis conventions")
