"""Analysis conventions (``study/adam/analysis.yaml``): the ADaM side's study facts."""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from aclf.config import DEFAULT_STUDY_DIR, load_model


class Analysis(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    meld_e0_etiologies: list[str]
    age_groups: list[tuple[float, float, str]]
    on_treatment_window_days: int
    tte_cutoff_day: int
    stage_2_day: int
    score_visits: list[str]


def load_analysis(directory: str | Path | None = None) -> Analysis:
    path = Path(directory or DEFAULT_STUDY_DIR / "adam") / "analysis.yaml"
    return load_model(path, Analysis, "analysis conventions")
