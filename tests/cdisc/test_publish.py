"""Publishing an area's packages: built once a night, written whole or not at all, and an SDTM that
breaks its spec keeps the ADaM of its area from being built on it."""
from __future__ import annotations

import json

import dagster as dg
import pytest

import cdisc.publish
from cdisc.folders import recover, swap_in
from pipelines.cli import deliver_night
from pipelines.nightly import run_nightly
from support import building_every_step, generated_night


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    with generated_night(tmp_path_factory.mktemp("publish"), subjects=40, seed=3) as (settings, summary, url):
        yield settings


def _status(settings, package):
    return json.loads((settings.output / "blinded" / "status" / f"{package}.json").read_text())


def test_sdtm_is_built_once_a_night_and_adam_reads_its_hand_off(night, monkeypatch):
    building_every_step(monkeypatch)
    calls = []
    real = cdisc.publish.build_domains
    monkeypatch.setattr(cdisc.publish, "build_domains", lambda *a, **k: calls.append(1) or real(*a, **k))
    result = run_nightly(night, instance=dg.DagsterInstance.ephemeral())
    assert result.success and not result.blocked
    assert len(calls) == 1
    assert (night.output / "blinded" / "handoff" / "sdtm" / "DM.parquet").exists()
    assert _status(night, "sdtm")["refreshed"] and _status(night, "adam")["refreshed"]


def test_a_spec_violation_in_sdtm_keeps_both_packages_of_the_night_before(night, monkeypatch):
    """A 300-character adverse event term breaks the 200-byte rule: SDTM is not written, ADaM is not
    built (the spec check blocks it), the run is not a pipeline failure, and the run report says
    which package was not refreshed and why."""
    building_every_step(monkeypatch)
    adam_before = _status(night, "adam")["written_at"]
    xpt_before = (night.output / "blinded" / "m5" / "datasets" / "nct05985863" / "analysis" / "adam" / "datasets"
                  / "adsl.xpt").read_bytes()
    real = cdisc.publish.build_domains

    def long_term(*args, **kwargs):
        domains = real(*args, **kwargs)
        domains.datasets["AE"].loc[0, "AETERM"] = "X" * 300
        return domains

    monkeypatch.setattr(cdisc.publish, "build_domains", long_term)
    result = run_nightly(night, instance=dg.DagsterInstance.ephemeral())
    assert result.success, result.failures
    assert "sdtm/ae:spec" in result.blocked
    sdtm, adam = _status(night, "sdtm"), _status(night, "adam")
    assert not sdtm["refreshed"] and "AE" in sdtm["reason"]
    assert any(v["dataset"] == "AE" and v["variable"] == "AETERM" for v in sdtm["violations"])
    assert adam["written_at"] == adam_before                  # ADaM was not rebuilt
    assert (night.output / "blinded" / "m5" / "datasets" / "nct05985863" / "analysis" / "adam" / "datasets"
            / "adsl.xpt").read_bytes() == xpt_before
    report = json.loads((night.output / "run_report.json").read_text())
    [package] = [p for folder, p in report["packages"].items() if folder.endswith("tabulations/sdtm")]
    assert package["refreshed"] is False and package["datasets"]


def test_a_swap_interrupted_between_its_renames_recovers_the_package_in_force(tmp_path):
    folder = tmp_path / "sdtm"
    folder.mkdir()
    (folder / "dm.xpt").write_text("tonight's")
    fresh = tmp_path / ".sdtm.new"
    fresh.mkdir()
    (fresh / "dm.xpt").write_text("new")
    folder.rename(tmp_path / ".sdtm.old")             # the kill came after the first rename
    recover(folder)
    assert (folder / "dm.xpt").read_text() == "tonight's"
    swap_in(fresh, folder)
    assert (folder / "dm.xpt").read_text() == "new" and not (tmp_path / ".sdtm.old").exists()


def test_the_hand_off_reads_each_dataset_when_asked_and_keeps_none(night):
    """ADaM's view of the SDTM hand-off: a mapping over its Parquet files, each read on access, so
    that LB lives only while ADLB is derived from it."""
    import pandas as pd
    from cdisc.handoff import load_handoff

    folder = night.output / "blinded" / "handoff"
    sdtm = load_handoff(folder)
    files = sorted(p.stem for p in (folder / "sdtm").glob("*.parquet"))
    assert list(sdtm) == files and len(sdtm) == len(files) and "LB" in files
    assert "DM" in sdtm and "EX" not in sdtm and 3 not in sdtm       # the blinded area has no EX
    with pytest.raises(KeyError):
        sdtm["EX"]
    assert sdtm["LB"].equals(pd.read_parquet(folder / "sdtm" / "LB.parquet"))
    assert sdtm["DM"] is not sdtm["DM"]                               # nothing is cached
    with pytest.raises(FileNotFoundError):
        load_handoff(night.output / "nowhere")


def test_a_run_hands_freed_memory_back_to_the_system(night):
    """The resource sets the process's allocators (aclf.memory): Arrow's buffers on the system
    allocator, so that what a layer frees leaves the process."""
    import pyarrow as pa

    pa.set_memory_pool(pa.mimalloc_memory_pool())
    assert run_nightly(night, instance=dg.DagsterInstance.ephemeral()).success
    assert pa.default_memory_pool().backend_name == "system"
