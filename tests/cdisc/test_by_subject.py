"""LB, ADLB and ADSCORE built for the subjects whose inputs changed only: the digests see a changed
value, a row moved or removed and a new subject; the rest of the records come from the previous
night, with their row hashes; and the datasets (and LB's trace) equal a full build, value for value
and dtype for dtype, and the hashes carried over those of a full hashing."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aclf.current import forms_in_force
from aclf.harmonized_lab import load_harmonized_lab
from aclf.store import make_engine
from assets.configuration import load_configuration
from cdisc.adam import build as adam_build
from cdisc.adam.build import BY_SUBJECT, build_adam
from cdisc.adam.previous import load_previous, save_previous
from cdisc.by_subject import Previous, Stored, changed_subjects, merge_by_subject, merge_hashed, subject_digests
from cdisc.handoff import load_handoff
from cdisc.row_hash import ROW_HASH, hashes_hold, keep_hashes, row_hashes
from cdisc.sdtm import lb as lb_module
from cdisc.sdtm.build import build_context, build_domains
from support import generated_night

STUDY_DIR = Path(__file__).resolve().parents[2] / "study"


def _lb(rows):
    return pd.DataFrame(rows, columns=["USUBJID", "LBTESTCD", "LBSTRESN"])


def test_a_subject_digest_sees_its_own_rows_only():
    lb = _lb([("A", "BILI", 1.0), ("A", "INR", 2.0), ("B", "BILI", 3.0)])
    before = subject_digests([lb])
    assert subject_digests([lb]).equals(before)                                   # stable
    changed = subject_digests([lb.assign(LBSTRESN=[1.0, 2.5, 3.0])])
    assert changed["A"] != before["A"] and changed["B"] == before["B"]
    swapped = subject_digests([lb.iloc[[1, 0, 2]]])                               # the same rows, another order
    assert swapped["A"] != before["A"]
    other_part = subject_digests([lb.iloc[:2], lb.iloc[2:]])                      # the part a row is in counts
    assert other_part["B"] != before["B"]


def test_a_subject_digest_sees_a_value_turn_negative_zero():
    """0 and -0 are equal numbers, but Dataset-JSON writes the sign: a limit sent as '-0' where it was
    '0' changes the subject's records, as a full build shows them."""
    lb = _lb([("A", "ALT", 0.0), ("B", "ALT", 0.0)]).assign(LBSTNRLO=pd.array([0.0, None], dtype="Float64"))
    before = subject_digests([lb])
    signed = subject_digests([lb.assign(LBSTRESN=[-0.0, 0.0])])
    assert signed["A"] != before["A"] and signed["B"] == before["B"]
    nullable = subject_digests([lb.assign(LBSTNRLO=pd.array([-0.0, None], dtype="Float64"))])
    assert nullable["A"] != before["A"] and nullable["B"] == before["B"]


def test_changed_subjects_are_the_new_and_the_different_ones():
    before = pd.Series([1, 2, 3], index=["A", "B", "C"], dtype="uint64")
    now = pd.Series([1, 5, 7], index=["A", "B", "D"], dtype="uint64")            # C vanished, D is new
    assert list(changed_subjects(before, now)) == ["B", "D"]
    assert list(changed_subjects(pd.Series(dtype="uint64"), now)) == ["A", "B", "D"]


def test_merged_records_are_in_subject_order_each_subject_from_one_side():
    previous = pd.DataFrame({"USUBJID": ["A", "A", "B", "C"], "AVAL": [1.0, 2.0, 3.0, 4.0]})
    rebuilt = pd.DataFrame({"USUBJID": ["B", "B"], "AVAL": [30.0, 31.0]})
    merged = merge_by_subject(previous.copy(), rebuilt, pd.Series(["A", "C"]))
    assert merged["AVAL"].tolist() == [1.0, 2.0, 30.0, 31.0, 4.0]
    assert merge_by_subject(previous, None, pd.Series(["C"]))["AVAL"].tolist() == [4.0]
    assert previous.columns.empty                                               # consumed: each column let go


def test_merged_hashes_are_the_kept_rows_and_the_rebuilt_rows_hashes_in_merged_order():
    previous = pd.DataFrame({"USUBJID": ["A", "A", "B", "C"], "AVAL": [1.0, 2.0, 3.0, np.nan], "_ROW": [1, 2, 3, 4]})
    rebuilt = pd.DataFrame({"USUBJID": ["B", "B"], "AVAL": [30.0, -0.0], "_ROW": [7, 8]})
    def hashed():
        return previous.assign(**{ROW_HASH: row_hashes(previous.drop(columns="_ROW"))})

    merged, hashes = merge_hashed(hashed(), rebuilt.copy(), pd.Series(["A", "C"]), unhashed=["_ROW"])
    assert merged["_ROW"].tolist() == [1, 2, 7, 8, 4]
    assert ROW_HASH not in merged and np.array_equal(hashes, row_hashes(merged.drop(columns="_ROW")))
    assert len(set(hashes)) == 5                                   # -0.0 and NaN hashed apart from the rest
    kept, none_rebuilt = merge_hashed(hashed(), None, pd.Series(["C"]), unhashed=["_ROW"])
    assert np.array_equal(none_rebuilt, row_hashes(kept.drop(columns="_ROW")))
    unhashed, no_hashes = merge_hashed(previous.copy(), rebuilt, pd.Series(["A", "C"]), unhashed=["_ROW"])
    assert no_hashes is None and ROW_HASH not in unhashed        # nothing carried: hashed in full later


def test_carried_hashes_hold_only_for_their_own_rows():
    frame = pd.DataFrame({"USUBJID": [f"S{i}" for i in range(2000)], "AVAL": np.arange(2000.0)})
    hashes = row_hashes(frame)
    assert hashes_hold(frame, hashes) and not hashes_hold(frame, hashes[:-1]) and not hashes_hold(frame, None)
    assert not hashes_hold(frame.assign(AVAL=frame["AVAL"] + 1), hashes)
    assert row_hashes(frame.assign(AVAL=np.nan)).tolist() == row_hashes(    # every NaN is one value
        frame.assign(AVAL=np.frombuffer(np.full(2000, 0xFFF8000000000001, dtype="uint64").tobytes()))).tolist()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A generated night: its SDTM hand-off, its harmonized table and the SDTM build context."""
    config = load_configuration(STUDY_DIR)
    with generated_night(tmp_path_factory.mktemp("by_subject"), subjects=40, seed=21) as (settings, _, url):
        handoff = load_handoff(settings.output / "blinded" / "handoff")
        engine = make_engine(url)
        ctx = build_context(config.study, config.design, forms_in_force(engine, config.study),
                            ct_release=config.spec("sdtm", "blinded").ct_version)
        yield {"sdtm": {name: handoff[name] for name in handoff}, "lab": load_harmonized_lab(engine), "ctx": ctx}
        engine.dispose()


@pytest.fixture(scope="module")
def night(generated):
    """The SDTM hand-off, the configuration, and the ADaM built from it in full."""
    sdtm = generated["sdtm"]
    config = load_configuration(STUDY_DIR)
    args = (config.study, config.analysis, config.spec("adam", "blinded"), config.design)
    datasets, digests, _ = build_adam(sdtm, *args)
    return sdtm, args, Previous(digests, Stored({name: datasets[name].copy for name in BY_SUBJECT}))


def _hashed(previous: Previous) -> Previous:
    """The previous night's datasets with their rows' hashes, as ``load_previous`` reads them back."""
    return Previous(previous.digests, {name: frame.assign(**{ROW_HASH: row_hashes(frame)})
                                       for name, frame in previous.datasets.items()})


def _next_night(sdtm: dict) -> dict:
    """One subject's lab value corrected, another's samples withdrawn, a third's ascites grade changed."""
    lb, rs = sdtm["LB"].copy(), sdtm["RS"].copy()
    subjects = lb.loc[lb["LBSTRESN"].notna(), "USUBJID"].unique()
    corrected = np.flatnonzero(((lb["USUBJID"] == subjects[0]) & lb["LBSTRESN"].notna()).to_numpy())[0]
    lb.loc[corrected, "LBSTRESN"] += 1.0
    lb = lb[lb["USUBJID"] != subjects[1]].reset_index(drop=True)
    rs.loc[rs.index[-1], "RSORRES"] = "" if rs["RSORRES"].iloc[-1] else "1"
    return {**sdtm, "LB": lb, "RS": rs}


@pytest.mark.parametrize("hashed", [False, True])
def test_a_build_from_the_previous_night_equals_a_full_build(night, monkeypatch, hashed):
    sdtm, args, previous = night
    tonight = _next_night(sdtm)
    full, digests, _ = build_adam(tonight, *args)
    derived, build_adlb = [], adam_build.build_adlb
    monkeypatch.setattr(adam_build, "build_adlb", lambda lb, adsl, *rest: derived.append(len(adsl)) or
                        build_adlb(lb, adsl, *rest))
    reused, reused_digests, carried = build_adam(tonight, *args, previous=_hashed(previous) if hashed else previous)
    assert 0 < derived[0] <= 3 < len(full["ADSL"])                  # the changed subjects only
    assert reused_digests.equals(digests)
    for name in full:
        pd.testing.assert_frame_equal(reused[name], full[name], check_exact=True)
    assert sorted(carried) == (sorted(BY_SUBJECT) if hashed else [])
    for name, hashes in carried.items():                            # those of a full hashing
        assert np.array_equal(hashes, row_hashes(full[name]))


def test_a_night_with_the_same_inputs_derives_no_bds_record(night, monkeypatch):
    sdtm, args, previous = night
    monkeypatch.setattr(adam_build, "build_adlb", lambda *a: pytest.fail("ADLB derived again"))
    reused = build_adam(sdtm, *args, previous=previous).datasets
    for name in BY_SUBJECT:
        pd.testing.assert_frame_equal(reused[name], previous.datasets[name], check_exact=True)


def test_the_previous_night_is_read_back_only_under_its_key(night, tmp_path):
    _, _, previous = night
    save_previous(tmp_path / "kept", "key-1", previous.digests, previous.datasets).settle(True)
    assert load_previous(tmp_path / "kept", "key-2") is None and load_previous(tmp_path / "kept", None) is None
    again = load_previous(tmp_path / "kept", "key-1")
    assert again.digests.equals(previous.digests)
    for name in BY_SUBJECT:
        pd.testing.assert_frame_equal(again.datasets[name], previous.datasets[name], check_exact=True)


def test_the_row_hashes_kept_are_read_back_with_their_datasets(night, tmp_path):
    _, _, previous = night
    saving = save_previous(tmp_path / "kept", "key-1", previous.digests, previous.datasets)
    keep_hashes(saving, {"ADLB": row_hashes(previous.datasets["ADLB"]), "ADSCORE": None})
    saving.settle(True)
    again = load_previous(tmp_path / "kept", "key-1")
    adlb = again.datasets["ADLB"]
    assert np.array_equal(adlb.pop(ROW_HASH).to_numpy(), row_hashes(previous.datasets["ADLB"]))
    pd.testing.assert_frame_equal(adlb, previous.datasets["ADLB"], check_exact=True)
    assert ROW_HASH not in again.datasets["ADSCORE"]            # none made: hashed in full on the next night


def test_lb_built_from_the_previous_night_equals_a_full_build(generated, monkeypatch):
    ctx, lab = generated["ctx"], generated["lab"]
    spec = load_configuration(STUDY_DIR).spec("sdtm", "blinded")
    first = build_domains(ctx, spec, lambda: lab)
    trace = first.trace[first.trace["dataset"] == "LB"]
    previous = Previous(first.lb_digests, {"LB": first.datasets["LB"].assign(
        _TRANSFER=trace["transfer_id"].astype("int64").to_numpy(), _ROW=trace["row_number"].astype("int64").to_numpy(),
        _POS=trace["position"].astype("int64").to_numpy())})
    subjects = lab.loc[lab["lbstresn"].notna(), "subjid"].unique()
    tonight = lab[lab["subjid"] != subjects[1]].reset_index(drop=True)          # one subject's samples withdrawn
    tonight.loc[np.flatnonzero((tonight["subjid"] == subjects[0]).to_numpy())[0], "lbstresn"] += 1.0
    # a new snapshot restates every record: each from another transfer and row, the values unchanged
    tonight = tonight.assign(transfer_id=tonight["transfer_id"] + 100, row_number=tonight["row_number"] + 7)
    full = build_domains(ctx, spec, lambda: tonight)
    built, records = [], lb_module._records
    monkeypatch.setattr(lb_module, "_records", lambda ctx_, h: built.append(set(h["subjid"])) or records(ctx_, h))
    hashed = Previous(previous.digests, {"LB": previous.datasets["LB"].assign(
        **{ROW_HASH: row_hashes(first.datasets["LB"])})})
    reused = build_domains(ctx, spec, lambda: tonight, lb_before=hashed)
    assert built == [{subjects[0]}]                                           # the changed subject only
    pd.testing.assert_frame_equal(reused.datasets["LB"], full.datasets["LB"], check_exact=True)
    assert np.array_equal(reused.hashes["LB"], row_hashes(full.datasets["LB"]))   # those of a full hashing
    assert full.hashes == {}
    pd.testing.assert_frame_equal(reused.trace, full.trace, check_exact=True)   # tonight's lineage, every record
    assert (reused.trace.loc[reused.trace["dataset"] == "LB", "transfer_id"] > 100).all()
    assert reused.lb_digests.equals(full.lb_digests)


def test_a_build_no_later_night_will_reuse_makes_no_digest(generated, night, monkeypatch):
    """The unblinded area keeps nothing for a later night: its LB and ADaM are built without the
    subjects' digests, and are what a build with them gives."""
    sdtm, args, _ = night
    ctx, lab = generated["ctx"], generated["lab"]
    spec = load_configuration(STUDY_DIR).spec("sdtm", "blinded")
    with_digests, adam = build_domains(ctx, spec, lambda: lab), build_adam(sdtm, *args).datasets
    monkeypatch.setattr(lb_module, "subject_digests", lambda *a, **k: pytest.fail("LB digested"))
    monkeypatch.setattr(adam_build, "subject_digests", lambda *a, **k: pytest.fail("ADaM inputs digested"))
    without = build_domains(ctx, spec, lambda: lab, lb_digested=False)
    datasets, digests, _ = build_adam(sdtm, *args, digested=False)
    assert without.lb_digests is None and digests is None
    pd.testing.assert_frame_equal(without.datasets["LB"], with_digests.datasets["LB"], check_exact=True)
    for name in adam:
        pd.testing.assert_frame_equal(datasets[name], adam[name], check_exact=True)


def test_an_lb_record_without_its_row_in_tonights_table_is_an_error(generated):
    """Taken records are given their row's lineage by subject and position; one that has no row
    tonight could only come from a hand-off that does not match the digests, and is never guessed."""
    ctx = generated["ctx"]
    subjid = generated["lab"]["subjid"].iloc[0]
    sources = pd.DataFrame({"subjid": pd.Series([subjid, subjid], dtype="str"), "_POS": [0, 1],
                            "transfer_id": [5, 5], "row_number": [10, 11]})
    usubjid = ctx.usubjid(pd.Series([subjid], dtype="str")).iloc[0]
    records = pd.DataFrame({"USUBJID": pd.Series([usubjid, usubjid], dtype="str"), "_POS": [1, 0]})
    relined = lb_module.relineage(records, sources, ctx)
    assert relined["_TRANSFER"].tolist() == [5, 5] and relined["_ROW"].tolist() == [11, 10]
    with pytest.raises(ValueError, match="harmonized row"):
        lb_module.relineage(records.assign(_POS=[0, 2]), sources, ctx)
    with pytest.raises(ValueError, match="harmonized row"):
        lb_module.relineage(records.assign(USUBJID=pd.Series(["NCT05985863-99-999"] * 2, dtype="str")), sources, ctx)
