"""Where a run reads and writes: landing zone, outputs, raw archive, database, study configuration.

Each comes from an argument, else an environment variable, else a default under the working
directory. The archive (the only place personal data may remain) defaults apart from the outputs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aclf.config import DEFAULT_STUDY_DIR
from aclf.store import DATABASE_URL_ENV, validate_database_url

ENV = {"landing": "ACLF_LANDING_DIR", "output": "ACLF_OUTPUT_DIR", "archive": "ACLF_ARCHIVE_DIR",
       "database_url": DATABASE_URL_ENV, "study_dir": "ACLF_STUDY_DIR"}


@dataclass(frozen=True)
class Settings:
    landing: Path
    output: Path
    archive: Path
    database_url: str
    study_dir: Path

    @classmethod
    def resolve(cls, landing=None, output=None, archive=None, database_url=None, study_dir=None,
                state_dir: Path | None = None) -> "Settings":
        """Arguments win over ACLF_* environment variables, which win over defaults. A database URL
        that cannot be parsed, or whose driver is missing, raises ConfigError (one line)."""
        def pick(name, given, default):
            return given or os.environ.get(ENV[name]) or default
        state = Path(state_dir or "var")
        return cls(
            landing=Path(pick("landing", landing, "landing")).resolve(),
            output=Path(pick("output", output, "output")).resolve(),
            archive=Path(pick("archive", archive, state / "archive")).resolve(),
            database_url=validate_database_url(
                pick("database_url", database_url, f"sqlite:///{(state / 'aclf.sqlite').resolve()}")),
            study_dir=Path(pick("study_dir", study_dir, DEFAULT_STUDY_DIR)).resolve(),
        )
