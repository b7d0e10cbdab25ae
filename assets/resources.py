"""The Dagster resource that hands the core its settings, configuration and database."""

from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from aclf.blinding import BLINDED, Unblinding, load_unblinding
from aclf.config import ConfigError, Study
from aclf.ingest import Paths
from aclf.lock import store_lock
from aclf.memory import return_freed_memory
from aclf.mirror import mirror_folder
from aclf.randkey import read_key
from aclf.settings import Settings
from aclf.store import make_engine
from assets.configuration import Configuration, load_configuration
from cdisc.area import Area, AreaFolders

_ENGINES: dict[str, sa.Engine] = {}
ASSET_LOCK_WAIT_SECONDS = 3600   # an asset waits up to an hour for another run's write


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
    unblinding_file: str = ""            # unblinded deployments only (the authorization file)
    unblinded_output_dir: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> "AclfResource":
        unblinded = settings.unblinded
        return cls(landing_dir=str(settings.landing), output_dir=str(settings.output),
                   archive_dir=str(settings.archive), database_url=settings.database_url,
                   study_dir=str(settings.study_dir),
                   unblinding_file=str(settings.unblinding) if unblinded else "",
                   unblinded_output_dir=str(settings.unblinded_output) if unblinded else "")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        return_freed_memory()          # before any step of the run allocates its frames

    def config(self) -> Configuration:
        return load_configuration(self.study_dir)

    def study(self) -> Study:
        return self.config().study

    def engine(self) -> sa.Engine:
        return _engine(self.database_url)

    def locked(self):
        """The store's run lock around an asset that writes to it: runs that Dagster launches at once
        (one per source) take turns; inside the nightly run, which holds it already, it is reentrant."""
        return store_lock(self.engine(), wait_seconds=ASSET_LOCK_WAIT_SECONDS)

    def mirror(self) -> Path:
        """Parquet copies of store tables for the night's readers (aclf.mirror), kept with the raw
        archive, apart from the outputs people read."""
        return mirror_folder(Path(self.archive_dir))

    def paths(self) -> Paths:
        return Paths(landing=Path(self.landing_dir), archive=Path(self.archive_dir))

    @property
    def output(self) -> Path:
        return Path(self.output_dir)

    def folders(self, area: Area) -> AreaFolders:
        """Where an area's packages, figures and hand-off live: ``<output>/blinded``, or the unblinded root."""
        root = self.output / area.name if area.blinded else Path(self.unblinded_output_dir)
        return AreaFolders(root=root, studyid=self.study().study.studyid)

    def unblinding(self) -> Unblinding:
        return load_unblinding(self.unblinding_file) if self.unblinding_file else BLINDED

    def randomization_key(self) -> pd.DataFrame:
        """The key, for an authorized unblinding only (ConfigError otherwise)."""
        if self.unblinding().level == "blinded":
            raise ConfigError("the randomization key is read only under an authorized unblinding")
        design = self.config().design
        return read_key(Path(self.landing_dir) / design.blinding.key_folder, design.blinding.key,
                        list(design.products))
