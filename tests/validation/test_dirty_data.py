"""Data errors never stop the night: a generated study with typical EDC mistakes planted runs to the
end, writes both packages, and reports every mistake as a finding."""
import dagster as dg
import pandas as pd

from pipelines.cli import deliver_night
from aclf.settings import Settings
from aclf.store import make_engine
from aclf.synth import generate
from support import store_url, write_manifest
from pipelines.nightly import run_nightly

MISTAKES = {  # file -> (column, first-row value)
    "clinical_assessment.csv": ("HE_GRADE", "5"),
    "enrollment.csv": ("BRTHDTC", "1970-13-45"),
    "adverse_events.csv": ("AESTDTC", "unknown"),
    "infusion.csv": ("INF_START", "2024-02-30T10:00"),
    "visits.csv": ("VISIT", "WEEK99"),
    "outcome_events.csv": ("EVENT_DATE", "2024"),
}


def test_planted_edc_mistakes_become_findings_and_the_packages_are_still_written(tmp_path):
    summary = generate(tmp_path / "incoming", subjects=40, seed=3, nights=1, in_flight=())
    night = summary.nights[0].replace("-", "")
    with store_url(tmp_path) as url:
        settings = Settings.resolve(landing=tmp_path / "landing", output=tmp_path / "output",
                                    archive=tmp_path / "archive", database_url=url)
        deliver_night(tmp_path / "incoming", settings.landing, night)
        folder = settings.landing / "edc" / f"EDC_{night}"
        for name, (column, value) in MISTAKES.items():
            frame = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
            frame.loc[0, column] = value
            frame.to_csv(folder / name, index=False)
        write_manifest(folder)
        assert run_nightly(settings, instance=dg.DagsterInstance.ephemeral(), log_level="ERROR").success
        findings = pd.read_sql("select message from finding where status = 'open'", make_engine(url))
        text = "\n".join(findings["message"])
        for name, (column, value) in MISTAKES.items():
            assert f"{column} value '{value}'" in text, (name, column)
        for area in ("tabulations/sdtm", "analysis/adam/datasets"):
            assert (settings.output / "blinded" / "m5" / "datasets" / "nct05985863" / area / "define.xml").exists()
