"""Source partitions come from the study configuration: onboarding a source adds a partition."""
from __future__ import annotations

import dagster as dg

from aclf.config import load_study
from aclf.settings import Settings

STUDY = load_study(Settings.resolve().study_dir)
source_partitions = dg.StaticPartitionsDefinition(STUDY.source_names)
