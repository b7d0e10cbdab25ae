"""Analysis conventions (``study/adam/analysis.yaml``): the ADaM side's study facts."""
from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from aclf.config import DEFAULT_STUDY_DIR, ConfigError


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
    try:
        return Analysis.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid analysis conventions: {exc}") from None
