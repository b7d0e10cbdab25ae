"""The night's two arrangements of its warm worker (pipelines.nightly.ONE_WORKER_UP_TO): a small
study's suites run while SDTM and ADaM are built and land in a step of their own at the end; a
large study's land before SDTM, and a worker for the figures replaces theirs. The outputs are the
same either way."""
import json

import dagster as dg
import pytest

import pipelines.nightly
from aclf.settings import Settings
from aclf.synth import generate
from pipelines.cli import deliver_night
from pipelines.nightly import run_nightly
from support import store_url

QUALITY, ADSL, DM = dg.AssetKey("quality_docs"), dg.AssetKey(["adam", "adsl"]), dg.AssetKey(["sdtm", "dm"])


@pytest.fixture(scope="module")
def incoming(tmp_path_factory):
    root = tmp_path_factory.mktemp("arrangement")
    night = generate(root / "incoming", subjects=30, seed=13, nights=1, in_flight=()).nights[0]
    return root / "incoming", night.replace("-", "")


def night(root, incoming, monkeypatch, up_to: int) -> tuple[dg.DagsterInstance, Settings, list[str]]:
    monkeypatch.setattr(pipelines.nightly, "ONE_WORKER_UP_TO", up_to)
    lines, instance = [], dg.DagsterInstance.ephemeral()
    with store_url(root) as url:
        settings = Settings.resolve(landing=root / "landing", output=root / "output", archive=root / "archive",
                                    database_url=url)
        deliver_night(incoming[0], settings.landing, incoming[1])
        assert run_nightly(settings, instance=instance, progress=lines.append).success
    return instance, settings, [line.split(":")[0] for line in lines]


def stamp(instance: dg.DagsterInstance, key: dg.AssetKey) -> float:
    return instance.get_latest_materialization_event(key).timestamp


def test_a_small_study_collects_its_suites_last_and_a_large_one_before_sdtm(tmp_path, incoming, monkeypatch):
    small, small_settings, small_lines = night(tmp_path / "small", incoming, monkeypatch, 100_000)
    large, large_settings, large_lines = night(tmp_path / "large", incoming, monkeypatch, 0)

    assert small_lines[-3:] == ["SDTM and ADaM", "expectation suites", "run report"]
    assert stamp(small, QUALITY) > stamp(small, ADSL)
    assert "expectation suites" not in large_lines
    assert stamp(large, QUALITY) < stamp(large, DM)

    def result(settings):
        return json.loads((settings.output / "quality" / "result.json").read_text(encoding="utf-8"))

    assert result(small_settings) == result(large_settings) and result(small_settings)["evaluated"] > 50
    for settings in (small_settings, large_settings):
        assert len(list((settings.output / "blinded" / "figures").glob("*.png"))) == 3
    findings = [(s.output / "findings" / "findings.csv").read_text(encoding="utf-8").splitlines()
                for s in (small_settings, large_settings)]
    assert len(findings[0]) > 1 and findings[0] == findings[1]
