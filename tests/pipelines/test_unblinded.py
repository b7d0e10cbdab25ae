"""The unblinded area under an authorized unblinding: every patient's arm exactly as the key says, at
each level; the blinded package unchanged by it; the key never opened without it; restricted files."""
from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pandas as pd
import pyreadstat
import pytest

import aclf.randkey
from aclf.config import ConfigError
from aclf.settings import Settings
from bench.compare_outputs import compare
from cdisc.area import AreaFolders
from pipelines.cli import main
from pipelines.nightly import run_nightly
from support import generated_night

STUDYID = "NCT05985863"
AUTHORIZATION = {
    "stage1": "- {stage: 1, authorized_by: DMC chair, authorized_on: 2025-01-15, reference: DMC-001}\n",
    "full": "- {stage: 1, authorized_by: DMC chair, authorized_on: 2025-01-15, reference: DMC-001}\n"
            "- {stage: 2, authorized_by: DMC chair, authorized_on: 2025-06-15, reference: DMC-002}\n",
}


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    root = tmp_path_factory.mktemp("unblinded")
    with generated_night(root, subjects=80, seed=5) as (settings, _, _):
        yield root, settings


def _key(settings: Settings) -> pd.DataFrame:
    """Per SUBJID the stage-1 and stage-2 treatments, read here from the key and the IWRS list."""
    key = pd.read_csv(next((settings.landing / "iwrs_key").glob("RANDKEY_*.csv")), dtype=str)
    iwrs = pd.read_csv(next((settings.landing / "iwrs").glob("IWRS_*.csv")), dtype=str)
    iwrs = iwrs.merge(key, on="RAND_NO")
    wide = iwrs.pivot(index="SUBJID", columns="STAGE", values="TREATMENT").fillna("")
    return wide.rename(columns={"1": "stage1", "2": "stage2"})


def _unblinded(root: Path, settings: Settings, level: str) -> Settings:
    authorization = root / f"{level}.yaml"
    authorization.write_text(AUTHORIZATION[level], encoding="utf-8")
    unblinded = replace(settings, output=root / f"output_{level}", unblinding=authorization,
                        unblinded_output=root / f"unblinded_{level}")
    unblinded.check_unblinded_area()
    assert run_nightly(unblinded, instance=dg.DagsterInstance.ephemeral()).success
    return unblinded


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pyreadstat.read_xport(str(folder / f"{name}.xpt"))[0]


EXPECTED_ARM = {("PLACEBO", ""): "PBO", ("HUC-MSC", ""): "MSC3", ("HUC-MSC", "PLACEBO"): "MSC3PBO2",
                ("HUC-MSC", "HUC-MSC"): "MSC5"}


@pytest.mark.parametrize("level", ["stage1", "full"])
def test_the_unblinded_package_assigns_every_patient_as_the_key_says(night, level):
    root, blinded = night
    settings = _unblinded(root, blinded, level)
    folders = AreaFolders(settings.unblinded_output, STUDYID)
    key = _key(settings)
    dm = _read(folders.sdtm, "dm").set_index("SUBJID")
    adsl = _read(folders.adam, "adsl").set_index("SUBJID")
    randomized = dm.index.intersection(key.index)
    assert len(randomized) == len(key) > 20
    for subjid, row in key.iterrows():
        expected = EXPECTED_ARM[(row["stage1"], row["stage2"])]
        if level == "stage1" and row["stage2"]:
            expected = "MSC3MSK2"                                  # stage 2 stays masked
        assert dm.loc[subjid, "ARMCD"] == expected, subjid
        assert adsl.loc[subjid, "TRT01P"] == {"PLACEBO": "Placebo", "HUC-MSC": "hUC-MSC"}[row["stage1"]]
        stage2 = {"": "", "PLACEBO": "Placebo", "HUC-MSC": "hUC-MSC"}[row["stage2"]]
        assert adsl.loc[subjid, "TRT02P"] == (stage2 if level == "full" or not stage2 else "Masked stage-2 product")
        assert adsl.loc[subjid, "RAND2FL"] == ("Y" if row["stage2"] else "N")
    dates = {c: pd.to_datetime(adsl[c]) for c in ("TRTSDT", "TR01SDT", "TR01EDT", "TR02SDT", "TR02EDT")}
    assert dates["TR01SDT"].equals(dates["TRTSDT"].rename("TR01SDT"))      # exposure by period (EX's epochs)
    infused2 = dates["TR02SDT"].notna()
    assert infused2.any() and (adsl.loc[infused2, "RAND2FL"] == "Y").all()
    assert (dates["TR02SDT"][infused2] > dates["TR01EDT"][infused2]).all()
    assert (dates["TR02EDT"][infused2] >= dates["TR02SDT"][infused2]).all()
    assert dates["TR02EDT"].notna().equals(infused2)
    blinded_adsl = _read(AreaFolders(settings.output / "blinded", STUDYID).adam, "adsl").set_index("SUBJID")
    for var in ("TR01SDT", "TR01EDT"):                  # stage 1's exposure: one rule, the same dates in both areas
        assert pd.to_datetime(blinded_adsl[var]).reindex(adsl.index).equals(dates[var]), var
    ex = _read(folders.sdtm, "ex")
    assert set(ex["EXTRT"]) <= {"HUC-MSC", "PLACEBO", "MASKED STAGE-2 PRODUCT (HUC-MSC OR PLACEBO)"}
    placebo = ex["USUBJID"].str.removeprefix(f"{STUDYID}-").map(key["stage1"]) == "PLACEBO"
    assert (ex.loc[placebo, "EXTRT"] == "PLACEBO").all()
    forms = {"HUC-MSC": "INJECTION, SUSPENSION", "PLACEBO": "INJECTION, SOLUTION",
             "MASKED STAGE-2 PRODUCT (HUC-MSC OR PLACEBO)": "INJECTION"}
    assert (ex["EXDOSFRM"] == ex["EXTRT"].map(forms)).all()
    ec = _read(folders.sdtm, "ec")
    given = ec[ec["ECOCCUR"] == "Y"]
    assert (given["ECDOSFRM"] == given["ECTRT"].map(forms)).all()
    assert ("TREATMENT 2" in set(_read(folders.sdtm, "se")["EPOCH"])) and (folders.adam / "define.xml").exists()
    reports = settings.unblinded_output / "reports"
    rates = pd.read_csv(reports / "tfs_rates_by_arm.csv")
    assert set(rates["arm"]) == {"Placebo", "hUC-MSC"} and rates["ci_low"].le(rates["survival"]).all()
    assert {"stage 1", "stage 2"} >= set(pd.read_csv(reports / "teae_incidence_by_arm_and_stage.csv")["stage"])
    assert "<svg" in (reports / "unblinded_report.html").read_text(encoding="utf-8")
    assert stat.S_IMODE(settings.unblinded_output.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in reports.iterdir())


def test_the_blinded_package_is_the_same_with_or_without_an_unblinding(night):
    root, blinded = night
    settings = _unblinded(root, blinded, "full")
    assert compare(blinded.output, settings.output) == []
    assert not list(settings.output.rglob("ex.xpt"))


def test_without_an_authorization_the_key_is_never_opened(night, monkeypatch):
    root, blinded = night

    def refuse(*args, **kwargs):
        raise AssertionError("the randomization key was opened")

    monkeypatch.setattr(aclf.randkey, "read_key", refuse)
    monkeypatch.setattr("assets.resources.read_key", refuse)
    assert run_nightly(replace(blinded, output=root / "output_again"),
                       instance=dg.DagsterInstance.ephemeral()).success


def test_a_key_that_cannot_assign_a_randomized_patient_refuses_the_unblinded_package(night, monkeypatch):
    """A randomization number the key does not hold yet (a key transfer older than the IWRS list): the
    unblinded packages are refused with the reason, the one in force stays, the blinded package is
    published and the night exits 0 (a data problem, not a failure of the pipeline)."""
    from aclf.randkey import read_key
    from cdisc.package import read_status

    root, blinded = night
    stale = lambda *args, **kwargs: read_key(*args, **kwargs).iloc[1:]      # noqa: E731
    monkeypatch.setattr("assets.resources.read_key", stale)
    authorization = root / "stale.yaml"
    authorization.write_text(AUTHORIZATION["full"], encoding="utf-8")
    settings = replace(blinded, output=root / "output_stale", unblinding=authorization,
                       unblinded_output=root / "unblinded_stale")
    result = run_nightly(settings, instance=dg.DagsterInstance.ephemeral())
    assert result.success and not result.failures
    status = read_status(AreaFolders(settings.unblinded_output, STUDYID).root, "sdtm")
    assert not status.refreshed and "randomization numbers missing from the key" in status.violations[0]["message"]
    assert not list(settings.unblinded_output.rglob("dm.xpt"))
    assert read_status(AreaFolders(settings.output / "blinded", STUDYID).root, "sdtm").refreshed


def test_bad_unblinding_setups_exit_two_before_any_work(night, tmp_path, capsys):
    root, blinded = night
    stage2_only = tmp_path / "stage2.yaml"
    stage2_only.write_text("- {stage: 2, authorized_by: X, authorized_on: 2025-01-01, reference: R}\n")
    base = ["run", "--landing", str(blinded.landing), "--output", str(tmp_path / "out"),
            "--archive", str(tmp_path / "archive"), "--database-url", f"sqlite:///{tmp_path / 's.sqlite'}"]
    assert main([*base, "--unblinding", str(stage2_only), "--unblinded-output", str(tmp_path / "ub")]) == 2
    assert "stage 2 cannot be unblinded before stage 1" in capsys.readouterr().err
    full = tmp_path / "full.yaml"
    full.write_text(AUTHORIZATION["full"])
    assert main([*base, "--unblinding", str(full), "--unblinded-output", str(tmp_path / "out" / "ub")]) == 2
    assert "must lie outside the blinded output" in capsys.readouterr().err
    assert main([*base, "--unblinding", str(full)]) == 2
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError):
        Settings.resolve(landing=tmp_path, output=tmp_path / "o", unblinded_output=tmp_path / "u")
