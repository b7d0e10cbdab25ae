"""Where a run reads and writes: landing zone, outputs, raw archive, database, study configuration.

Each comes from an argument, else an environment variable, else a default under the working
directory. The archive (the only place personal data may remain) defaults apart from the outputs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aclf.config import DEFAULT_STUDY_DIR, ConfigError
from aclf.store import DATABASE_URL_ENV, validate_database_url

ENV = {"landing": "ACLF_LANDING_DIR", "output": "ACLF_OUTPUT_DIR", "archive": "ACLF_ARCHIVE_DIR",
       "database_url": DATABASE_URL_ENV, "study_dir": "ACLF_STUDY_DIR", "unblinding": "ACLF_UNBLINDING_FILE",
       "unblinded_output": "ACLF_UNBLINDED_OUTPUT_DIR"}


@dataclass(frozen=True)
class Settings:
    landing: Path
    output: Path
    archive: Path
    database_url: str
    study_dir: Path
    unblinding: Path | None = None            # the authorization file; None: blinded only
    unblinded_output: Path | None = None      # root of the unblinded area (it keeps no state in a store)

    @classmethod
    def resolve(cls, landing=None, output=None, archive=None, database_url=None, study_dir=None,
                state_dir: Path | None = None, unblinding=None, unblinded_output=None) -> "Settings":
        """Arguments win over ACLF_* environment variables, which win over defaults. A database URL
        that cannot be parsed, or whose driver is missing, raises ConfigError (one line); so does an
        unblinding without an unblinded output root outside every blinded folder."""
        def pick(name, given, default):
            return given or os.environ.get(ENV[name]) or default
        state = Path(state_dir or "var")
        unblinding = pick("unblinding", unblinding, None)
        unblinded = pick("unblinded_output", unblinded_output, None)
        settings = cls(
            landing=Path(pick("landing", landing, "landing")).resolve(),
            output=Path(pick("output", output, "output")).resolve(),
            archive=Path(pick("archive", archive, state / "archive")).resolve(),
            database_url=validate_database_url(
                pick("database_url", database_url, f"sqlite:///{(state / 'aclf.sqlite').resolve()}")),
            study_dir=Path(pick("study_dir", study_dir, DEFAULT_STUDY_DIR)).resolve(),
            unblinding=Path(unblinding).resolve() if unblinding else None,
            unblinded_output=Path(unblinded).resolve() if unblinded else None,
        )
        settings.check_unblinded_area()
        return settings

    @property
    def unblinded(self) -> bool:
        return self.unblinding is not None

    def check_layout(self, source_names: list[str]) -> None:
        """Before any work (ConfigError, one line): the landing zone exists and holds at least one of
        the study's source folders (a wrong path would otherwise "succeed" with empty packages), and
        the output lies apart from the landing zone and the raw archive (personal data stay there)."""
        if not self.landing.is_dir():
            raise ConfigError(f"the landing zone {self.landing} does not exist")
        if not any((self.landing / name).is_dir() for name in source_names):
            raise ConfigError(f"the landing zone {self.landing} holds none of the study's source folders "
                              f"({', '.join(source_names)}): is it the right path?")
        for name, folder in (("landing zone", self.landing), ("archive", self.archive)):
            if _overlap(self.output, folder):
                raise ConfigError(f"the output {self.output} must lie outside the {name} {folder}")

    def check_unblinded_area(self) -> None:
        """The unblinded area needs its own root, outside the blinded output, landing zone and archive."""
        if self.unblinding is None:
            if self.unblinded_output is not None:
                raise ConfigError("--unblinded-output is given without an --unblinding authorization file")
            return
        if self.unblinded_output is None:
            raise ConfigError("an --unblinding authorization needs --unblinded-output, the root of the unblinded area")
        for name, folder in (("output", self.output), ("landing zone", self.landing), ("archive", self.archive)):
            if _overlap(self.unblinded_output, folder):
                raise ConfigError(f"the unblinded output {self.unblinded_output} must lie outside the blinded "
                                  f"{name} {folder}")


def _overlap(a: Path, b: Path) -> bool:
    """One folder is the other or lies inside it."""
    return a.is_relative_to(b) or b.is_relative_to(a)
