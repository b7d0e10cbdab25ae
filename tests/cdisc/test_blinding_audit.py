"""The blinding audit: small hand-made studies (a planted marker is found, a declared outcome is
not, survival differences are no false alarm), and (slow) a generated study of more than 2,000
randomized subjects: its blinded package passes, and a copy with each known leak re-planted fails."""
from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdisc.blinding_audit import AuditConfig, audit, load_audit_config, randomization_key, read_package

STUDYID = "NCT05985863"
DAY0 = pd.Timestamp("2024-01-01")


# ---------------------------------------------------------------------------------------- hand-made

def _iso(day0: pd.Series, days) -> pd.Series:
    return (day0 + pd.to_timedelta(np.asarray(days, dtype=float), unit="D")).dt.strftime("%Y-%m-%d")


def hand_made(n: int = 900, seed: int = 1, leak: bool = False, days: int = 120
              ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """DM, SV (weekly visits while alive), AE (one per subject; AESER an outcome that differs by
    arm); placebo patients die more often in week 1. With ``leak``, half the hUC-MSC patients alive
    at week 3 get an AE on day 24 with AEACN DOSE NOT CHANGED, placebo patients never."""
    rng = np.random.default_rng(seed)
    subjid = pd.Series([f"01-{i:04d}" for i in range(n)])
    usubjid = STUDYID + "-" + subjid
    arm = np.where(rng.random(n) < 2 / 3, "HUC-MSC", "PLACEBO")
    day0 = pd.Series(DAY0 + pd.to_timedelta(rng.integers(0, days, n), unit="D"))
    dies = rng.random(n) < np.where(arm == "PLACEBO", 0.35, 0.15)
    death = np.where(dies, rng.integers(7, 13, n), np.inf)
    dm = pd.DataFrame({"STUDYID": STUDYID, "DOMAIN": "DM", "USUBJID": usubjid, "SUBJID": subjid,
                       "RFSTDTC": day0.dt.strftime("%Y-%m-%d"), "SITEID": "01",
                       "DTHDTC": np.where(dies, _iso(day0, np.where(dies, death, 0)), ""),
                       "RFENDTC": np.where(dies, _iso(day0, np.where(dies, death, 0)), "")})
    visits = [(i, d) for i in range(n) for d in range(0, 57, 7) if d < death[i]]
    vi, vd = np.array(visits).T
    sv = pd.DataFrame({"STUDYID": STUDYID, "DOMAIN": "SV", "USUBJID": usubjid[vi].to_numpy(),
                       "VISITNUM": vd // 7 + 1.0, "VISIT": [f"WEEK {d // 7}" for d in vd],
                       "SVSTDTC": _iso(day0[vi].reset_index(drop=True), vd)})
    onset = np.minimum(rng.integers(0, 50, n), np.where(dies, death - 1, 99))
    ae = pd.DataFrame({"STUDYID": STUDYID, "DOMAIN": "AE", "USUBJID": usubjid, "AESPID": "1",
                       "AESER": np.where(rng.random(n) < np.where(arm == "PLACEBO", 0.6, 0.2), "Y", "N"),
                       "AEACN": np.where(onset <= 14, "DOSE NOT CHANGED", "NOT APPLICABLE"),
                       "AESTDTC": _iso(day0, onset)})
    if leak:
        planted = (arm == "HUC-MSC") & (death > 28) & (rng.random(n) < 0.5)
        ae = pd.concat([ae, ae[planted].assign(AESPID="2", AEACN="DOSE NOT CHANGED",
                                                AESTDTC=_iso(day0[planted], np.full(planted.sum(), 24)))])
    stage2 = (arm == "HUC-MSC") & (death > 28)
    key = pd.DataFrame({"SUBJID": subjid, "ARM1": arm,
                        "ARM2": np.where(stage2, np.where(rng.random(n) < 0.5, "HUC-MSC", "PLACEBO"), "")})
    return {"DM": dm, "SV": sv, "AE": ae}, key


@pytest.fixture(scope="module")
def config() -> AuditConfig:
    return load_audit_config()


def test_a_study_without_markers_passes_despite_more_placebo_deaths(config):
    datasets, key = hand_made()
    result = audit(datasets, key, config)
    assert not result.failed, result.report()
    # the deaths do change the all-subject visit counts: only the at-risk comparison keeps them out
    visits = datasets["SV"].groupby("USUBJID").size().reindex(STUDYID + "-" + key["SUBJID"]).to_numpy()
    assert visits[key["ARM1"] == "PLACEBO"].mean() < visits[key["ARM1"] == "HUC-MSC"].mean() - 0.5
    assert result.tests > 50


def test_a_planted_marker_is_found_with_rates_and_p_value(config):
    datasets, key = hand_made(leak=True)
    result = audit(datasets, key, config)
    assert result.failed
    found = result.markers[(result.markers["variable"] == "AEACN") & (result.markers["week"] == "W3")]
    assert not found.empty, result.report()
    m = found.iloc[0]
    assert (m["dataset"], m["value"], m["comparison"]) == ("AE", "DOSE NOT CHANGED", "stage 1")
    assert m["rate_a"] > 0.3 and m["rate_b"] == 0 and m["p_adjusted"] < config.alpha
    assert "AE.AEACN = 'DOSE NOT CHANGED' week W3" in result.report()


def test_a_declared_outcome_is_not_a_marker(config):
    datasets, key = hand_made()
    ser = datasets["AE"].assign(USUBJID=lambda f: f["USUBJID"].str[len(STUDYID) + 1:]).merge(
        key, left_on="USUBJID", right_on="SUBJID").groupby("ARM1")["AESER"].apply(lambda s: (s == "Y").mean())
    assert ser["PLACEBO"] - ser["HUC-MSC"] > 0.3                      # it does differ by arm
    result = audit(datasets, key, config)
    assert not (result.tested["variable"] == "AESER").any()
    lenient = config.model_copy(update={"exclusions": []})
    assert (audit(datasets, key, lenient).markers["variable"] == "AESER").any()   # found when not declared


def test_kit_numbers_are_a_marker_by_themselves(config):
    datasets, key = hand_made()
    dm = datasets["DM"]
    datasets["EC"] = pd.DataFrame({"STUDYID": STUDYID, "DOMAIN": "EC", "USUBJID": dm["USUBJID"],
                                   "ECREFID": [f"K{101 + i:04d}" for i in range(len(dm))],
                                   "ECSTDTC": dm["RFSTDTC"]})
    markers = audit(datasets, key, config).markers
    assert markers[["dataset", "variable", "feature"]].values.tolist() == [["EC", "ECREFID", "kit/randomization number"]]


def test_gaps_in_a_sequential_kit_list_are_dated_back_to_the_stage2_patients(config):
    """Kits handed out in time order, 3 per stage-1 and 2 per stage-2 randomization (at the week-4
    visit, day 28); only the stage-1 kits are shown. Even without the kit-number rule, the gaps point
    at the patients whose week-4 visit fell on their day."""
    datasets, key = hand_made(n=1500, seed=4, days=600)         # ~2.5 first infusions a day
    dm = datasets["DM"].set_index("SUBJID")
    day0 = pd.to_datetime(dm["RFSTDTC"])
    stage2 = key.set_index("SUBJID")["ARM2"] != ""
    events = pd.concat([pd.DataFrame({"SUBJID": dm.index, "date": day0.to_numpy(), "stage": 1, "kits": 3}),
                        pd.DataFrame({"SUBJID": stage2.index[stage2], "date": (day0[stage2] + pd.Timedelta(days=28)).to_numpy(),
                                      "stage": 2, "kits": 2})]).sample(frac=1, random_state=0)
    events = events.sort_values(["date", "stage"], kind="stable").reset_index(drop=True)
    events["first"] = 101 + events["kits"].cumsum() - events["kits"]
    one = events[events["stage"] == 1]
    ec = pd.DataFrame({"STUDYID": STUDYID, "DOMAIN": "EC", "USUBJID": STUDYID + "-" + one["SUBJID"].repeat(3).to_numpy(),
                       "ECREFID": [f"K{f + i:04d}" for f in one["first"] for i in range(3)],
                       "ECSTDTC": one["date"].repeat(3).dt.strftime("%Y-%m-%d").to_numpy()})
    datasets["EC"] = ec
    result = audit(datasets, key, config.model_copy(update={"identifier_patterns": []}))
    gap = result.markers[result.markers["feature"] == "number gap"]
    assert not gap.empty, result.report()
    held = gap[gap["value"] == "gap-dated visit"].iloc[0]
    assert (held["comparison"], held["arm_a"]) == ("stage 1", "HUC-MSC") and held["rate_a"] > held["rate_b"]
    shuffled = datasets | {"EC": ec.assign(ECREFID=ec["ECREFID"].sample(frac=1, random_state=1).to_numpy())}
    assert not audit(shuffled, key, config.model_copy(update={"identifier_patterns": []})).failed


def test_randomization_key_joins_the_iwrs_list_to_the_key():
    iwrs = pd.DataFrame({"SUBJID": ["01-001", "01-002", "01-001"], "STAGE": ["1", "1", "2"],
                         "RAND_NO": ["R1-0001", "R1-0002", "R2-0001"]})
    randkey = pd.DataFrame({"RAND_NO": ["R1-0001", "R1-0002", "R2-0001"],
                            "TREATMENT": ["HUC-MSC", "PLACEBO", "PLACEBO"]})
    key = randomization_key(iwrs, randkey).set_index("SUBJID")
    assert key.loc["01-001"].tolist() == ["HUC-MSC", "PLACEBO"]
    assert key.loc["01-002"].tolist() == ["PLACEBO", ""]


def test_the_configuration_is_validated(tmp_path):
    bad = tmp_path / "audit.yaml"
    bad.write_text((Path(__file__).parents[2] / "study" / "blinding_audit.yaml").read_text() + "typo: 1\n")
    from aclf.config import ConfigError
    with pytest.raises(ConfigError):
        load_audit_config(bad)
    assert all(e.reason for e in load_audit_config().exclusions)


def test_blinded_aeacn_keeps_stage_1_actions_and_blanks_every_later_one():
    from types import SimpleNamespace

    from cdisc.sdtm.events import blinded_action

    ctx = SimpleNamespace(reference=pd.DataFrame({"RFXENDTC": ["2024-03-19T10:40", "2024-03-18T10:00", ""]},
                                                 index=["01-001", "01-002", "01-003"]))
    ae = pd.DataFrame({"SUBJID": ["01-001", "01-001", "01-002", "01-002", "01-001", "01-003"],
                       "AESTDTC": ["2024-03-19", "2024-03-20", "2024-03-25", "2024-03-25", "2024-03", "2024-03-06"],
                       "AEACN": ["DRUG INTERRUPTED", "DOSE NOT CHANGED", "NOT APPLICABLE", "DRUG INTERRUPTED",
                                 "DOSE NOT CHANGED", "DOSE NOT CHANGED"]})
    # on the day of the last stage-1 infusion: kept; later (any value, either arm), a partial
    # start date, or no stage-1 infusion at all: blank
    assert blinded_action(ae, ctx).tolist() == ["DRUG INTERRUPTED", "", "", "", "", ""]


# ------------------------------------------------------------------------------ generated study (slow)

@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """~2,300 screened, ~2,070 randomized: the blinded package, the key, and the EDC forms the
    leaks are re-planted from."""
    from support import generated_night

    with generated_night(tmp_path_factory.mktemp("blinding"), subjects=2300, seed=3) as (settings, _, _):
        landing = Path(settings.landing)

        def csv(pattern):
            return pd.read_csv(glob.glob(str(landing / pattern))[0], dtype=str, keep_default_na=False)

        key = randomization_key(csv("iwrs/IWRS_*.csv"), csv("iwrs_key/RANDKEY_*.csv"))
        package = read_package(Path(settings.output) / "blinded" / "m5" / "datasets" / STUDYID.lower())
        forms = {name: csv(f"edc/EDC_*/{name}.csv") for name in ("adverse_events", "infusion")}
        yield package, key, forms


def _copy(package: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: frame.copy() for name, frame in package.items()}


@pytest.mark.slow
def test_the_blinded_package_of_2000_randomized_passes(generated, config):
    package, key, _ = generated
    assert len(key) >= 2000 and (key["ARM2"] != "").sum() >= 800
    result = audit(package, key, config)
    print(result.report())
    assert not result.failed, result.report()
    assert result.subjects["stage 1"] == len(key) and result.tests > 5000


@pytest.mark.slow
def test_the_aeacn_leak_replanted_fails(generated, config):
    package, key, forms = generated
    assert (package["AE"]["AEACN"] == "").any()                      # the blinded area blanks it
    leaked = _copy(package)
    edc = forms["adverse_events"].assign(USUBJID=lambda f: STUDYID + "-" + f["SUBJID"])
    collected = edc.drop_duplicates(["USUBJID", "AESPID"]).set_index(["USUBJID", "AESPID"])["AEACN"]
    ae = leaked["AE"]
    ae["AEACN"] = pd.MultiIndex.from_frame(ae[["USUBJID", "AESPID"]]).map(collected.to_dict()).fillna("")
    markers = audit(leaked, key, config).markers
    found = markers[(markers["dataset"] == "AE") & (markers["variable"] == "AEACN")]
    assert found["value"].isin(["DOSE NOT CHANGED", "NOT APPLICABLE"]).any(), markers
    late = found[found["week"].isin(["W3", "W4", "W5"]) & (found["value"] == "DOSE NOT CHANGED")]
    assert not late.empty and (late["rate_b"] == 0).all() and (late["arm_b"] == "PLACEBO").all()


@pytest.mark.slow
def test_the_kit_number_leak_replanted_fails_also_by_its_gaps(generated, config):
    package, key, forms = generated
    assert "ECREFID" not in package["EC"]
    leaked = _copy(package)
    inf = forms["infusion"]
    kits = dict(zip(STUDYID + "-" + inf["SUBJID"] + "|" + inf["VISIT"], inf["KIT_NO"]))
    ec = leaked["EC"]
    ec["ECREFID"] = (ec["USUBJID"] + "|" + ec["VISIT"].str.replace(" ", "")).map(kits).fillna("")
    markers = audit(leaked, key, config).markers
    ecrefid = markers[(markers["dataset"] == "EC") & (markers["variable"] == "ECREFID")]
    assert "kit/randomization number" in set(ecrefid["feature"])
    gap = ecrefid[(ecrefid["feature"] == "number gap") & (ecrefid["value"] == "gap-dated visit")]
    assert not gap.empty and (gap["rate_a"] > gap["rate_b"] + 0.05).all(), markers


@pytest.mark.slow
def test_the_stage2_infusions_replanted_fail(generated, config):
    """A regression guard for a leak the builder already closes: week-4/5 infusion records (and
    their kits) exist only for re-randomized, i.e. hUC-MSC, patients."""
    package, key, forms = generated
    leaked = _copy(package)
    inf = forms["infusion"]
    stage2 = inf[inf["VISIT"].isin(["WEEK4", "WEEK5"])]
    extra = pd.DataFrame({"STUDYID": STUDYID, "DOMAIN": "EC", "USUBJID": STUDYID + "-" + stage2["SUBJID"],
                          "ECTRT": leaked["EC"]["ECTRT"].iloc[0], "ECOCCUR": stage2["DONE"],
                          "VISIT": stage2["VISIT"].str.replace("WEEK", "WEEK "), "ECSTDTC": stage2["INF_START"]})
    leaked["EC"] = pd.concat([leaked["EC"], extra], ignore_index=True)
    markers = audit(leaked, key, config).markers
    ec = markers[(markers["dataset"] == "EC") & (markers["comparison"] == "stage 1")]
    assert {"WEEK 4", "WEEK 5"} <= set(ec.loc[ec["variable"] == "VISIT", "value"]), markers
    assert (ec["feature"] == "record count").any()
