"""A night without a new transfer, configuration or code costs nothing downstream of ingestion: the
findings, the expectation suites, and the SDTM and ADaM packages are kept as they are (no file
rewritten) and reported again as they were; a night with a new transfer builds them again."""
import json
import shutil

import dagster as dg
import pandas as pd
import pytest

import aclf.inputs
from aclf.report import format_summary
from aclf.store import make_engine
from aclf.synth import generate
from pipelines.cli import deliver_night
from pipelines.nightly import run_nightly
from support import store_url
from validation.findings import stored_findings
from aclf.settings import Settings

KEYS = [["findings"], ["quality_docs"], ["sdtm", "dm"], ["sdtm", "lb"], ["adam", "adsl"], ["adam", "adlb"]]


def _files(output) -> dict[str, int]:
    """Every output file but the run report's, with the time it was last written."""
    return {str(p.relative_to(output)): p.stat().st_mtime_ns for p in output.rglob("*")
            if p.is_file() and "status" not in p.parts and not p.name.startswith("run_report")}


def _findings(url) -> pd.DataFrame:
    return stored_findings(make_engine(url)).sort_values("finding_id", ignore_index=True)


def _night(settings, instance) -> dict:
    assert run_nightly(settings, instance=instance, log_level="ERROR").success
    metadata = {}
    for key in KEYS:
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        metadata["/".join(key)] = {k: v.value for k, v in event.asset_materialization.metadata.items()}
    return metadata


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("kept")
    summary = generate(root / "incoming", subjects=40, seed=17, nights=2, in_flight=())
    first, second = (n.replace("-", "") for n in summary.nights)
    instance = dg.DagsterInstance.ephemeral()
    with pytest.MonkeyPatch.context() as patch, store_url(root) as url:
        patch.setattr(aclf.inputs, "code_version", lambda: "1.0+gabc")          # as in a clean checkout
        settings = Settings.resolve(landing=root / "landing", output=root / "output", archive=root / "archive",
                                    database_url=url)
        deliver_night(root / "incoming", settings.landing, first)
        built = _night(settings, instance)
        files, findings = _files(settings.output), _findings(url)
        kept = _night(settings, instance)
        after_kept = {"files": _files(settings.output), "findings": _findings(url),
                      "report": json.loads((settings.output / "run_report.json").read_text())}
        staged = root / "site01_only"
        shutil.copytree(root / "incoming" / "site01", staged / "site01")
        deliver_night(staged, settings.landing, second)
        rebuilt = _night(settings, instance)
        yield {"built": built, "kept": kept, "rebuilt": rebuilt, "files": files, "findings": findings,
               "after_kept": after_kept, "output": settings.output}


def test_a_night_without_a_new_transfer_rewrites_no_output(nights):
    before, after = nights["files"], nights["after_kept"]["files"]
    assert any(name.endswith("lb.xpt") for name in before) and any(name.endswith("findings.csv") for name in before)
    assert after == before


def test_what_it_keeps_is_reported_as_it_was_built(nights):
    built, kept = nights["built"], nights["kept"]
    for key in built:
        assert built[key]["kept"] is False and kept[key]["kept"] is True, key
        assert {k: v for k, v in kept[key].items() if k != "kept"} == \
            {k: v for k, v in built[key].items() if k != "kept"}, key
    pd.testing.assert_frame_equal(nights["after_kept"]["findings"], nights["findings"])


def test_the_status_and_the_run_report_say_the_packages_were_kept(nights):
    report = nights["after_kept"]["report"]
    packages = report["packages"]
    assert {p["package"] for p in packages.values()} == {"sdtm", "adam"}
    assert all(p["refreshed"] and p["unchanged"] for p in packages.values())
    assert report["status"]["overall"] == "complete"
    assert format_summary(report).count("kept: no transfer, configuration or code changed since") == 2
    status = json.loads(next(nights["output"].glob("*/status/sdtm.json")).read_text())
    assert status["unchanged"] is False        # the third night had a new transfer: built again


def test_a_new_transfer_builds_every_step_again(nights):
    assert all(meta["kept"] is False for meta in nights["rebuilt"].values())
    assert nights["rebuilt"]["sdtm/lb"]["records"] != nights["kept"]["sdtm/lb"]["records"]
