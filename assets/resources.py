"""The Dagster resource that hands the core its settings, configuration and database."""

from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from aclf.config import Study
from aclf.ingest import Paths
from aclf.settings import Settings
from aclf.store import make_engine
from assets.configuration import Configuration, load_configuration
from cdisc.area import Area, AreaFolders

_ENGINES: dict[str, sa.Engine] = {}


def _engine(url: str) -> sa.Engine:
    """One engine (and pool) per database URL for the life of the process."""
    if url not in _ENGINES:
        _ENGINES[url] = make_engine(url)
    return _ENGINES[url]


def dispose_engines() -> None:
    """Close every cached engine's connections (tests that drop their database schema)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


class AclfResource(dg.ConfigurableResource):
    """Paths, database URL and study folder of a deployment (see aclf.settings for the ACLF_*
    variables); the study folder is read once and handed out as one validated configuration."""

    landing_dir: str
    output_dir: str
    archive_dir: str
    database_url: str
    study_dir: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "AclfResource":
        return cls(landing_dir=str(settings.landing), output_dir=str(settings.output),
                   archive_dir=str(settings.archive), database_url=settings.database_url,
                   study_dir=str(settings.study_dir))

    def config(self) -> Configuration:
        return load_configuration(self.study_dir)

    def study(self) -> Study:
        return self.config().study

    def engine(self) -> sa.Engine:
        return _engine(self.database_url)

    def paths(self) -> Paths:
        return Paths(landing=Path(self.landing_dir), archive=Path(self.archive_dir))

    @property
    def output(self) -> Path:
        return Path(self.output_dir)

    def folders(self, area: Area) -> AreaFolders:
        """Where an area's packages, figures and hand-off live (``<output>/<area>``)."""
        return AreaFolders(root=self.output / area.name, studyid=self.study().study.studyid)
