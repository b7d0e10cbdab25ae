"""Fixtures of the pipeline tests: a small study run night by night through the real nightly job."""
import dagster as dg
import pytest

from pipelines.cli import deliver_night
from support import store_url


@pytest.fixture(scope="session")
def two_nights(tmp_path_factory):
    """A 40-subject study, two nights delivered and run (corrections and vanished records between them)."""
    from aclf.settings import Settings
    from aclf.synth import generate
    from pipelines.nightly import run_nightly

    root = tmp_path_factory.mktemp("two_nights")
    summary = generate(root / "incoming", subjects=40, seed=5, nights=2, in_flight=())
    with store_url(root) as url:
        settings = Settings.resolve(landing=root / "landing", output=root / "output", archive=root / "archive",
                                    database_url=url)
        for night in summary.nights:
            deliver_night(root / "incoming", settings.landing, night.replace("-", ""))
            assert run_nightly(settings, instance=dg.DagsterInstance.ephemeral()).success
        yield settings, summary.nights
