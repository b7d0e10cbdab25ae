"""Liver scores (aclf.scores) against published worked examples, the OPTN policy text and STUDY.md.

Sources of the expected values (inputs and outputs only; no code was taken from any of them):

[KIM21]   Kim WR et al. MELD 3.0. Gastroenterology 2021;161:1887-1895.e4, Table 4 (hypothetical
          candidates). Inputs as listed in CU-Anschutz-DOS-CORP/sas-macros, meld.sas (example
          datalines "Using examples on Table 4 of Gastroenterology ... 161(6)"); MELD 3.0 results
          and two unrounded values as in pacharanero/clincalc, src/calculators/meld_3.rs, tests
          `primary_paper_table_four_vectors` and `primary_vector_raw_values_match_published_...`.
[AMELD]   ampel-leipzig/ameld (R package), tests/testthat/test_meld.R: MELD with and without the
          aetiology term, bounds, dialysis, MELD-Na "unos" type and its sodium bounds.
[TXR]     johnasher/transplantr (R package, CRAN), tests/testthat/test_liver.R: MELD from
          umol/L inputs.
[CLINC]   pacharanero/clincalc, src/calculators/meld.rs (MELD worked example, cap of 40) and
          src/calculators/child_pugh.rs (Child-Pugh worked example, band edges, class edges).
[MEDX]    lakshay321123/medx, __tests__/child_pugh.test.ts (Child-Pugh class C example).
[OPTN]    OPTN policy 9.1.D (MELD; MELD-Na from Jan 2016), as quoted in MIT-LCP/mimic-code,
          mimic-iv/concepts/organfailure/meld.sql: MELD(i) "rounded to the tenth decimal place and
          then multiplied by 10"; "For candidates with an initial MELD score greater than 11" the
          sodium term applies; sodium bounded 125-137; maximum 40.
[KIM08]   Kim WR et al. Hyponatremia and mortality among patients on the liver-transplant waiting
          list. N Engl J Med 2008;359:1018-1026: MELD-Na = MELD - Na - [0.025 x MELD x (140 - Na)]
          + 140, sodium bounded 125-140 mmol/L.
[STUDY]   /work/shared/protocol/STUDY.md, "Derived scores": protocol MELD formula, E, the DMP
          bounds convention, Child-Pugh bands and edges, PT prolongation bands (Pugh 1973).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from aclf import scores

UMOL_PER_MG_DL_BILIRUBIN = 17.1
UMOL_PER_MG_DL_CREATININE = 88.4


def values(series: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in series.tolist()]


# ------------------------------------------------------------------------------------------------
# MELD 3.0
# ------------------------------------------------------------------------------------------------

# [KIM21] Table 4: sex, bilirubin mg/dL, sodium, INR, creatinine mg/dL, albumin g/dL -> MELD 3.0
KIM21_TABLE4 = [
    ("M", 2.5, 131, 1.0, 1.2, 3.8, 16),
    ("F", 2.5, 131, 1.0, 1.2, 3.8, 17),
    ("M", 6.0, 131, 1.5, 1.5, 3.5, 25),
    ("M", 6.0, 131, 1.5, 1.5, 2.2, 26),
    ("F", 6.0, 131, 1.5, 1.5, 2.2, 27),
    ("M", 12.0, 128, 2.2, 1.8, 2.0, 34),
    ("M", 12.0, 128, 2.2, 2.8, 2.0, 38),
    ("F", 12.0, 128, 2.2, 2.8, 2.0, 39),
]


def test_meld_3_kim_2021_table_4():
    table = pd.DataFrame(KIM21_TABLE4, columns=["sex", "tbil", "na", "inr", "cr", "alb", "meld3"],
                         index=[f"case{k}" for k in range(1, 9)])
    got = scores.meld_3(table.tbil, table.inr, table.cr, table.na, table.alb, table.sex == "F")
    assert got.index.equals(table.index)
    assert values(got) == table.meld3.astype(float).tolist()


def test_meld_3_unrounded_values_of_table_4():
    # [KIM21] via [CLINC]: case 1 (male) 15.809889226; case 8 (female) 39.259508372
    raw = scores.meld_3_raw([2.5, 12.0], [1.0, 2.2], [1.2, 2.8], [131, 128], [3.8, 2.0],
                            [False, True])
    assert raw.tolist() == pytest.approx([15.809889226, 39.259508372], abs=1e-8)


def test_meld_3_female_term_is_1_33():
    male = scores.meld_3_raw(6.0, 1.5, 1.5, 131, 2.2, False)
    female = scores.meld_3_raw(6.0, 1.5, 1.5, 131, 2.2, True)
    assert float(female.iloc[0] - male.iloc[0]) == pytest.approx(1.33, abs=1e-12)


def test_meld_3_bounds_albumin_creatinine_sodium_dialysis():
    base = dict(bili=6.0, inr=1.5, sodium=131, female=False)
    raw = lambda **kw: float(scores.meld_3_raw(**{**base, **kw}).iloc[0])  # noqa: E731
    # albumin bounded 1.5-3.5 g/dL
    assert raw(creat=1.5, albumin_g_dl=1.0) == raw(creat=1.5, albumin_g_dl=1.5)
    assert raw(creat=1.5, albumin_g_dl=4.2) == raw(creat=1.5, albumin_g_dl=3.5)
    assert raw(creat=1.5, albumin_g_dl=3.4) != raw(creat=1.5, albumin_g_dl=3.5)
    # creatinine capped at 3.0 (not 4.0 as in MELD/MELD-Na), floor 1.0; dialysis -> 3.0
    assert raw(creat=3.6, albumin_g_dl=2.2) == raw(creat=3.0, albumin_g_dl=2.2)
    assert raw(creat=2.9, albumin_g_dl=2.2) != raw(creat=3.0, albumin_g_dl=2.2)
    assert raw(creat=0.6, albumin_g_dl=2.2) == raw(creat=1.0, albumin_g_dl=2.2)
    assert raw(creat=1.1, albumin_g_dl=2.2, dialysis=True) == raw(creat=3.0, albumin_g_dl=2.2)
    # sodium bounded 125-137; bilirubin and INR floor 1.0
    assert raw(creat=1.5, albumin_g_dl=2.2, sodium=118) == raw(creat=1.5, albumin_g_dl=2.2,
                                                                sodium=125)
    assert raw(creat=1.5, albumin_g_dl=2.2, sodium=141) == raw(creat=1.5, albumin_g_dl=2.2,
                                                                sodium=137)
    assert raw(creat=1.5, albumin_g_dl=2.2, bili=0.4, inr=0.9) == raw(creat=1.5, albumin_g_dl=2.2,
                                                                      bili=1.0, inr=1.0)


def test_meld_3_capped_at_40():
    # [CLINC] meld_3.rs: female, TBIL 100, Na 125, INR 10, Cr 3.0, albumin 1.5 -> above 40 -> 40
    # (a bilirubin of 100 mg/dL alone in a column trips the unit guard: switched off here)
    assert float(scores.meld_3_raw(100, 10, 3.0, 125, 1.5, True, unit_check="off").iloc[0]) > 40
    assert values(scores.meld_3(100, 10, 3.0, 125, 1.5, True, unit_check="off")) == [40.0]


def test_meld_3_albumin_in_g_l_is_refused_and_the_helper_converts():
    alb_g_l = pd.Series([38.0, 22.0], index=["p1", "p2"])
    with pytest.raises(ValueError, match="g/L"):
        scores.meld_3(pd.Series([2.5, 6.0], index=alb_g_l.index), 1.0, 1.2, 131, alb_g_l, False)
    got = scores.meld_3(pd.Series([2.5, 6.0], index=alb_g_l.index), [1.0, 1.5], [1.2, 1.5],
                        [131, 131], scores.g_l_to_g_dl(alb_g_l), [False, False])
    assert values(got) == [16.0, 26.0]  # [KIM21] cases 1 and 4


# ------------------------------------------------------------------------------------------------
# UNOS MELD
# ------------------------------------------------------------------------------------------------

def test_meld_unos_published_values():
    # [AMELD] creatinine 1.9, bilirubin 4.2, INR 1.2, cause "other" -> 20.0391626, rounded 20
    assert scores.meld_unos_raw(4.2, 1.2, 1.9).iloc[0] == pytest.approx(20.0391626, abs=1e-7)
    assert values(scores.meld_unos(4.2, 1.2, 1.9)) == [20.0]
    # [TXR] INR 2.0, bilirubin 54 umol/L, creatinine 170 umol/L -> 24.798 (unrounded)
    raw = scores.meld_unos_raw(54 / UMOL_PER_MG_DL_BILIRUBIN, 2.0, 170 / UMOL_PER_MG_DL_CREATININE)
    assert round(float(raw.iloc[0]), 3) == 24.798
    # [CLINC] bilirubin 2.0, INR 1.5, creatinine 1.5 -> 17.47 -> 17
    assert scores.meld_unos_raw(2.0, 1.5, 1.5).iloc[0] == pytest.approx(17.47, abs=0.005)
    assert values(scores.meld_unos(2.0, 1.5, 1.5)) == [17.0]


def test_meld_unos_bounds_and_dialysis():
    # [AMELD] values below 1 -> 1 (score 6.43 -> 6); creatinine 4.1 == 4; dialysis == creatinine 4
    assert scores.meld_unos_raw(0.9, 0.9, 0.9).iloc[0] == pytest.approx(6.43)
    assert values(scores.meld_unos(0.9, 0.9, 0.9)) == [6.0]
    assert scores.meld_unos_raw(1, 1, 4.1).iloc[0] == scores.meld_unos_raw(1, 1, 4.0).iloc[0]
    assert scores.meld_unos_raw(1, 1, 7.5).iloc[0] == scores.meld_unos_raw(1, 1, 4.0).iloc[0]
    assert (scores.meld_unos_raw(1, 1, 1.0, dialysis=True).iloc[0]
            == scores.meld_unos_raw(1, 1, 4.0).iloc[0])
    # [CLINC] bilirubin 50, INR 10, creatinine 4.0 with dialysis: above 40 -> 40
    assert scores.meld_unos_raw(50, 10, 4.0, dialysis=True).iloc[0] > 40
    assert values(scores.meld_unos(50, 10, 4.0, dialysis=True)) == [40.0]


def test_missing_dialysis_flag_leaves_the_score_missing_unless_it_cannot_matter():
    index = pd.Index(["a", "b", "c"])
    dialysis = pd.Series([None, None, False], index=index, dtype="boolean")
    creat = pd.Series([1.2, 5.0, 1.2], index=index)
    got = scores.meld_unos(pd.Series(3.0, index=index), 1.5, creat, dialysis)
    assert np.isnan(got["a"])                                      # 1.2 or 4.0? unknown
    assert got["b"] == scores.meld_unos(3.0, 1.5, 4.0).iloc[0]     # capped at 4.0 either way
    assert got["c"] == scores.meld_unos(3.0, 1.5, 1.2).iloc[0]


# ------------------------------------------------------------------------------------------------
# MELD-Na (OPTN 2016)
# ------------------------------------------------------------------------------------------------

def test_meld_na_published_value_and_sodium_bounds():
    # [AMELD] creatinine 1.9, bilirubin 4.2, INR 1.2, sodium 125, type "unos" -> 28
    assert values(scores.meld_na(4.2, 1.2, 1.9, 125)) == [28.0]
    # [AMELD] sodium bounded 125-137: 124 == 125, 138 == 137
    sodium = pd.Series([124, 125, 137, 138], index=[11, 12, 13, 14])
    raw = scores.meld_na_raw(4.2, 1.2, 1.9, sodium)
    assert raw[11] == raw[12] and raw[13] == raw[14]
    # [OPTN] worked: MELD(i) = 20.0 (20.039 to the tenth, x 10);
    # 20 + 1.32 x 12 - 0.033 x 20 x 12 = 27.92 -> 28; with sodium 137 no change -> 20
    assert raw[12] == pytest.approx(27.92)
    assert raw[13] == pytest.approx(20.0)


def test_meld_na_sodium_term_only_when_meld_i_above_11():
    # [AMELD] MELD <= 11: sodium changes nothing (1, 1, 1 with sodium 125 == with 137)
    assert values(scores.meld_na(1, 1, 1, 125)) == values(scores.meld_na(1, 1, 1, 137)) == [6.0]
    # [OPTN] MELD(i) is rounded (to the tenth, x 10) BEFORE the "> 11" test:
    # bilirubin 3.4 -> 11.056 -> MELD(i) 11: not above 11, MELD-Na = 11 even at sodium 125
    assert scores.meld_unos_raw(3.4, 1, 1).iloc[0] == pytest.approx(11.056, abs=1e-3)
    assert values(scores.meld_na(3.4, 1, 1, 125)) == [11.0]
    # bilirubin 3.9 -> 11.574 -> MELD(i) 12 > 11: 12 + 15.84 - 4.752 = 23.088 -> 23
    assert scores.meld_na_raw(3.9, 1, 1, 125).iloc[0] == pytest.approx(23.088)
    assert values(scores.meld_na(3.9, 1, 1, 125)) == [23.0]
    assert values(scores.meld_na(3.9, 1, 1, 137)) == [12.0]


def test_meld_na_uses_the_tenth_rounded_meld_i():
    # [OPTN] applied to [KIM21] case 1 (TBIL 2.5, INR 1.0, Cr 1.2, Na 131): MELD(i) 11.638 -> 12;
    # 12 + 1.32 x 6 - 0.033 x 12 x 6 = 17.544 -> 18 (unrounded MELD(i) would give 17.254 -> 17)
    assert scores.meld_na_raw(2.5, 1.0, 1.2, 131).iloc[0] == pytest.approx(17.544)
    assert values(scores.meld_na(2.5, 1.0, 1.2, 131)) == [18.0]


def test_meld_na_without_sodium_where_unos_does_not_use_it():
    # [OPTN] the sodium term applies only when MELD(i) > 11: at MELD(i) <= 11 a missing sodium does
    # not matter (MELD-Na = MELD(i) = 6); above 11 it does (missing)
    got = scores.meld_na([1.0, 4.2, 4.2], [1.0, 1.2, 1.2], [1.0, 1.9, 1.9], [np.nan, 125, np.nan])
    assert values(got) == [6.0, 28.0, None]
    assert values(scores.meld_na(3.4, 1, 1, np.nan)) == [11.0]      # MELD(i) 11.056 -> 11


# ------------------------------------------------------------------------------------------------
# MELD-Na (Kim 2008) and Kamath's MELD with the aetiology term
# ------------------------------------------------------------------------------------------------

def test_meld_na_kim_2008_formula_and_sodium_bounds():
    # [KIM08] MELD-Na = MELD - Na - 0.025 x MELD x (140 - Na) + 140, Na bounded 125-140, MELD the
    # continuous UNOS MELD. [AMELD] patient (Cr 1.9, TBIL 4.2, INR 1.2): MELD 20.0391626; at Na 130:
    # 20.0391626 - 130 - 0.025 x 20.0391626 x 10 + 140 = 25.0293720 -> 25
    raw = scores.meld_na_raw(4.2, 1.2, 1.9, pd.Series([130, 124, 125, 140, 145]), variant="kim2008")
    assert raw[0] == pytest.approx(20.0391626 + 10 - 0.25 * 20.0391626, abs=1e-6)
    assert values(scores.meld_na(4.2, 1.2, 1.9, 130, variant="kim2008")) == [25.0]
    assert raw[1] == raw[2] and raw[3] == raw[4]                     # bounds 125 and 140
    assert raw[3] == pytest.approx(20.0391626, abs=1e-6)              # Na 140: no sodium term
    # unlike UNOS 2016 (cap 137), sodium 137-140 still counts; and there is no "> 11" rule
    assert scores.meld_na_raw(1, 1, 1, 137, variant="kim2008").iloc[0] > 6.43
    assert values(scores.meld_na(1, 1, 1, np.nan, variant="kim2008")) == [None]
    with pytest.raises(ValueError, match="variant"):
        scores.meld_na(4.2, 1.2, 1.9, 130, variant="biggins")


def test_kamath_meld_with_the_etiology_term():
    # [AMELD] creatinine 1.9, bilirubin 4.2, INR 1.2: cause "other" 20.0391626, "ethyltoxic"
    # (alcoholic) 13.6091626; UNOS gives everyone the "other" term
    raw = scores.meld_unos_raw(4.2, 1.2, 1.9, etiology=["other", "alcoholic", "cholestatic", 1, 0])
    assert raw.tolist() == pytest.approx([20.0391626, 13.6091626, 13.6091626, 20.0391626,
                                          13.6091626], abs=1e-7)
    assert values(scores.meld_unos(4.2, 1.2, 1.9, etiology="alcoholic")) == [14.0]
    assert scores.meld_unos_raw(4.2, 1.2, 1.9).iloc[0] == pytest.approx(20.0391626, abs=1e-7)
    with pytest.raises(ValueError, match="etiology"):
        scores.meld_unos(4.2, 1.2, 1.9, etiology="viral")


# ------------------------------------------------------------------------------------------------
# Nonsense inputs are refused; unit mix-ups are caught
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, argument", [
    (lambda: scores.meld_unos(pd.Series([2.0, -1.2], index=["p1", "p2"]), 1.5, 1.0), "bilirubin"),
    (lambda: scores.meld_unos(2.0, pd.Series([1.1, 0.0], index=["p1", "p2"]), 1.0), "INR"),
    (lambda: scores.meld_protocol(2.0, 1.5, pd.Series([1.0, -0.5], index=["p1", "p2"]), 1), "creatinine"),
    (lambda: scores.meld_na(2.0, 1.5, 1.0, pd.Series([135, -140], index=["p1", "p2"])), "sodium"),
    (lambda: scores.meld_unos(pd.Series([2.0, np.inf], index=["p1", "p2"]), 1.5, 1.0), "bilirubin"),
    (lambda: scores.meld_3(2.0, 1.5, 1.0, 135, pd.Series([3.0, 0.0], index=["p1", "p2"]), False),
     "albumin_g_dl"),
    (lambda: scores.child_pugh(2.0, pd.Series([30, -30], index=["p1", "p2"]), 1.5, ascites="NONE",
                               encephalopathy=0), "albumin"),
    (lambda: scores.child_pugh(2.0, 30, None, pd.Series([4.0, np.inf], index=["p1", "p2"]),
                               ascites="NONE", encephalopathy=0), "PT prolongation"),
])
def test_nonsense_values_are_refused_naming_the_argument_and_the_row(call, argument):
    with pytest.raises(ValueError) as error:
        call()
    message = str(error.value)
    assert message.startswith(argument) and "row 'p2'" in message and "row 'p1'" not in message


def test_missing_values_still_give_a_missing_score_without_error():
    # the pipeline masks invalid components to missing before scoring: NaN must never raise
    nan = pd.Series([np.nan, 2.0])
    assert values(scores.meld_unos(nan, 1.5, 1.0)) == [None, values(scores.meld_unos(2.0, 1.5, 1.0))[0]]
    assert values(scores.meld_3(nan, 1.5, 1.0, 135, 3.0, False))[0] is None
    assert values(scores.child_pugh(nan, 30, 1.5, ascites="NONE", encephalopathy=0).score)[0] is None
    assert values(scores.meld_na(np.nan, np.nan, np.nan, np.nan)) == [None]


def test_unit_guard_bilirubin_in_umol_per_l():
    # [TXR] bilirubin 54 umol/L passed as mg/dL: MELD 36 instead of 25 - caught, switchably
    with pytest.warns(scores.UnitWarning, match="bilirubin.*umol/L"):
        assert values(scores.meld_unos(54, 2.0, 170 / UMOL_PER_MG_DL_CREATININE)) == [36.0]
    with pytest.raises(ValueError, match="bilirubin.*umol/L"):
        scores.meld_unos(54, 2.0, 1.9, unit_check="raise")
    assert values(scores.meld_unos(54 / UMOL_PER_MG_DL_BILIRUBIN, 2.0, 170 / UMOL_PER_MG_DL_CREATININE,
                                   unit_check="raise")) == [25.0]
    # one high value among plausible ones is a patient, not a unit: the median decides
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores.meld_unos([1.2, 2.0, 60.0], 1.5, 1.0, unit_check="raise")


@pytest.mark.parametrize("call, pattern", [
    (lambda mode: scores.child_pugh(2.5, 3.2, 1.8, ascites="MILD", encephalopathy=0, unit_check=mode),
     "albumin.*g/dL"),
    (lambda mode: scores.meld_unos(2.0, 1.5, 150.0, unit_check=mode), "creatinine.*umol/L"),
    (lambda mode: scores.meld_na(4.2, 1.2, 1.9, 13.1, unit_check=mode), "sodium"),
    (lambda mode: scores.meld_unos(2.0, 14.0, 1.0, unit_check=mode), "INR"),
])
def test_unit_guard_warns_raises_or_stays_silent(call, pattern):
    with pytest.warns(scores.UnitWarning, match=pattern):
        call(None)
    with pytest.raises(ValueError, match=pattern):
        call("raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        call("off")
    with pytest.raises(ValueError, match="unit_check"):
        call("loud")


# ------------------------------------------------------------------------------------------------
# Protocol MELD (STUDY.md)
# ------------------------------------------------------------------------------------------------

def test_meld_protocol_formula_and_etiology_term():
    # [STUDY] R = 3.8 ln(TBIL) + 11.2 ln(INR) + 9.6 ln(Cr) + 6.4 E, for TBIL 4.2, INR 1.2, Cr 1.9
    expected = 3.8 * math.log(4.2) + 11.2 * math.log(1.2) + 9.6 * math.log(1.9)
    raw = scores.meld_protocol_raw(4.2, 1.2, 1.9, [0, 1])
    assert raw.tolist() == pytest.approx([expected, expected + 6.4], abs=1e-12)
    # [AMELD] the same patient with the original coefficients (3.78, 11.2, 9.57, 6.43):
    # "ethyltoxic" 13.6091626, "other" 20.0391626; the registry's one-decimal coefficients
    # move R by < 0.1 and the integers agree: 14 and 20
    assert raw.tolist() == pytest.approx([13.6091626, 20.0391626], abs=0.1)
    assert values(scores.meld_protocol(4.2, 1.2, 1.9, [False, True])) == [14.0, 20.0]


def test_meld_protocol_bounds_of_the_dmp_convention():
    # [STUDY] below 1.0 -> 1.0; creatinine above 4.0 -> 4.0; dialysis twice in a week -> 4.0
    assert values(scores.meld_protocol_raw(0.5, 0.8, 0.7, 1)) == [pytest.approx(6.4)]
    assert values(scores.meld_protocol_raw(0.5, 0.8, 0.7, 0)) == [0.0]
    r4 = scores.meld_protocol_raw(2.0, 1.5, 4.0, 1).iloc[0]
    assert scores.meld_protocol_raw(2.0, 1.5, 6.3, 1).iloc[0] == r4
    assert scores.meld_protocol_raw(2.0, 1.5, 0.9, 1, dialysis=True).iloc[0] == r4
    assert scores.meld_protocol_raw(2.0, 1.5, 0.9, 1, dialysis=False).iloc[0] < r4


def test_meld_protocol_rounds_to_nearest_integer_ties_up():
    # Chosen rule: nearest integer, x.5 up (UNOS/OPTN practice), after rounding to 9 decimals.
    # TBIL = exp(8.1 / 3.8) gives R = 6.4 + 8.1 = 14.5 up to floating-point noise.
    tie = math.exp(8.1 / 3.8)
    tbil = pd.Series([math.exp(8.09 / 3.8), tie, math.exp(8.11 / 3.8), math.exp(8.6 / 3.8)],
                     index=["below", "tie", "above", "x.0"])
    raw = scores.meld_protocol_raw(tbil, 1.0, 1.0, 1)
    assert raw["tie"] == pytest.approx(14.5, abs=1e-12)
    assert raw["below"] == pytest.approx(14.49) and raw["above"] == pytest.approx(14.51)
    got = scores.meld_protocol(tbil, 1.0, 1.0, 1)
    assert got.to_dict() == {"below": 14.0, "tie": 15.0, "above": 15.0, "x.0": 15.0}
    assert round(14.5) == 14  # what Python's (banker's) rounding would have given


def test_meld_protocol_etiology_must_be_0_or_1():
    with pytest.raises(ValueError, match="etiology_e"):
        scores.meld_protocol(2.0, 1.5, 1.0, 2)


# ------------------------------------------------------------------------------------------------
# Child-Turcotte-Pugh
# ------------------------------------------------------------------------------------------------

def cp(bili, alb, inr=None, pt=None, ascites="NONE", he=0):
    return scores.child_pugh(bili, alb, inr, pt, ascites=ascites, encephalopathy=he)


def test_child_pugh_published_examples():
    # [CLINC] TBIL 2.5 mg/dL, albumin 3.0 g/dL (30 g/L), INR 1.8, mild ascites, no HE -> 9, B
    # [MEDX]  TBIL 3.2, albumin 2.6 g/dL (26 g/L), INR 2.0, mild ascites, mild HE (grade 1) -> 12, C
    # [CLINC] all lowest -> 5, A; all highest (TBIL 5, albumin 20 g/L, INR 3, moderate-severe
    #         ascites, grade 3-4) -> 15, C
    got = cp([2.5, 3.2, 1.0, 5.0], [30, 26, 40, 20], [1.8, 2.0, 1.0, 3.0],
             ascites=["MILD", "MILD", "NONE", "SEVERE"], he=[0, 1, 0, 4])
    assert got.score.tolist() == [9.0, 12.0, 5.0, 15.0]
    assert got["class"].tolist() == ["B", "C", "A", "C"]
    points = scores.child_pugh_points(2.5, 30, 1.8, ascites="MILD", encephalopathy=0)
    assert points.iloc[0][["bilirubin", "albumin", "coagulation", "ascites",
                           "encephalopathy"]].tolist() == [2, 2, 2, 2, 1]


@pytest.mark.parametrize("bili, points", [(1.9, 1), (2.0, 2), (3.0, 2), (3.1, 3)])
def test_child_pugh_bilirubin_edges(bili, points):  # [CLINC] and [STUDY]: 2 and 3 are middle
    assert scores.child_pugh_points(bili, 40, 1.0, ascites="NONE",
                                    encephalopathy=0).bilirubin.iloc[0] == points


@pytest.mark.parametrize("alb, points", [(36, 1), (35, 2), (35.0, 2), (28, 2), (27, 3)])
def test_child_pugh_albumin_edges_g_l(alb, points):  # [CLINC] 3.6/3.5/2.8/2.7 g/dL, in g/L
    assert scores.child_pugh_points(1.0, alb, 1.0, ascites="NONE",
                                    encephalopathy=0).albumin.iloc[0] == points


@pytest.mark.parametrize("inr, points", [(1.6, 1), (1.7, 2), (2.3, 2), (2.4, 3)])
def test_child_pugh_inr_edges(inr, points):  # [CLINC]
    assert scores.child_pugh_points(1.0, 40, inr, ascites="NONE",
                                    encephalopathy=0).coagulation.iloc[0] == points


@pytest.mark.parametrize("pt, points", [(3.9, 1), (4.0, 2), (6.0, 2), (6.1, 3)])
def test_child_pugh_pt_edges(pt, points):  # [STUDY] PT prolongation <4 / 4-6 / >6 s
    got = scores.child_pugh_points(1.0, 40, None, pt, ascites="NONE", encephalopathy=0)
    assert got.coagulation.iloc[0] == points and got.coagulation_source.iloc[0] == "PT"


def test_child_pugh_edges_survive_floating_point_noise():
    noisy_bili = 0.1 * 3 * 10           # 3.0000000000000004
    noisy_inr = 0.23 * 10               # 2.3000000000000003
    assert noisy_bili > 3 and noisy_inr > 2.3
    got = scores.child_pugh_points([noisy_bili, 2.0 - 1e-12], [35 + 1e-12, 28 - 1e-12],
                                   [noisy_inr, 1.7 - 1e-12], ascites="NONE", encephalopathy=0)
    assert got.bilirubin.tolist() == [2, 2]
    assert got.albumin.tolist() == [2, 2]
    assert got.coagulation.tolist() == [2, 2]


def test_child_pugh_pt_only_where_inr_missing():
    index = pd.Index(["inr", "pt", "none"])
    got = scores.child_pugh_points(1.0, 40, pd.Series([1.0, np.nan, np.nan], index=index),
                                   pd.Series([7.0, 7.0, np.nan], index=index),
                                   ascites="NONE", encephalopathy=0)
    assert values(got.coagulation) == [1.0, 3.0, None]            # PT 7 s ignored beside INR 1.0
    assert values(got.coagulation_source) == ["INR", "PT", None]
    assert values(cp(1.0, 40, [1.0, np.nan], [7.0, np.nan]).score) == [5.0, None]


def test_child_pugh_class_boundaries():
    # [CLINC] / [STUDY]: 6 -> A, 7 -> B, 9 -> B, 10 -> C
    got = cp([2.0, 2.0, 2.0, 2.0], [40, 30, 30, 30], [1.0, 1.0, 1.8, 1.8],
             ascites=["NONE", "NONE", "MILD", "MODERATE"], he=[0, 0, 0, 0])
    assert got.score.tolist() == [6.0, 7.0, 9.0, 10.0]
    assert got["class"].tolist() == ["A", "B", "B", "C"]


def test_child_pugh_ascites_and_encephalopathy_codes():
    got = scores.child_pugh_points(1.0, 40, 1.0, ascites=["none", " Mild ", "MODERATE", "severe"],
                                   encephalopathy=[0, 2, 3, 4])
    assert got.ascites.tolist() == [1, 2, 3, 3]
    assert got.encephalopathy.tolist() == [1, 2, 3, 3]
    with pytest.raises(ValueError, match="ascites"):
        scores.child_pugh(1.0, 40, 1.0, ascites="GROSS", encephalopathy=0)
    with pytest.raises(ValueError, match="West Haven"):
        scores.child_pugh(1.0, 40, 1.0, ascites="NONE", encephalopathy=5)


# ------------------------------------------------------------------------------------------------
# Missing components and vectorization
# ------------------------------------------------------------------------------------------------

def test_missing_component_gives_nan_and_a_reason():
    df = pd.DataFrame({"tbil": [4.2, 4.2, np.nan], "inr": [1.2, np.nan, 1.2],
                       "cr": [1.9, None, 1.9], "e": [1, 1, 1]}, index=[101, 7, 55])
    got = scores.meld_protocol(df.tbil, df.inr, df.cr, df.e)
    assert values(got) == [20.0, None, None]
    reason = scores.missing_reason(bilirubin=df.tbil, INR=df.inr, creatinine=df.cr, E=df.e)
    assert reason.to_dict() == {101: "", 7: "missing: INR, creatinine", 55: "missing: bilirubin"}
    for score in (scores.meld_unos(df.tbil, df.inr, df.cr),
                  scores.meld_na(df.tbil, df.inr, df.cr, 130),
                  scores.meld_3(df.tbil, df.inr, df.cr, 130, 3.0, False)):
        assert values(score)[1:] == [None, None]


def test_child_pugh_missing_component_and_reason():
    index = pd.Index(["S01-W1", "S01-W2"])
    ascites = pd.Series(["MILD", ""], index=index)     # a blank EDC code is missing
    he = pd.Series([1, 0], index=index)
    got = scores.child_pugh(pd.Series([2.5, 2.5], index=index), 30, 1.8, ascites=ascites,
                            encephalopathy=he)
    assert values(got.score) == [10.0, None] and values(got["class"]) == ["C", None]
    reason = scores.missing_reason(bilirubin=pd.Series([2.5, 2.5], index=index),
                                   ascites=ascites, encephalopathy=he)
    assert reason.tolist() == ["", "missing: ascites"]


def test_missing_reason_names_every_missing_component_of_every_row():
    rng = np.random.default_rng(3)
    choices = np.array([1.5, np.nan, None, pd.NA, "", "  ", "2.0", 0], dtype=object)
    parts = {name: pd.Series(rng.choice(choices, 400), index=rng.permutation(400) + 1000)
             for name in ("bilirubin", "INR", "creatinine", "ascites")}
    index = parts["bilirubin"].index
    parts = {name: part.set_axis(index) for name, part in parts.items()}
    reason = scores.missing_reason(**parts)

    def missing(v) -> bool:
        return v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip())
    expected = [", ".join(n for n, part in parts.items() if missing(part[i])) for i in index]
    assert reason.index.equals(index)
    assert reason.tolist() == [f"missing: {e}" if e else "" for e in expected]
    assert {"", "missing: bilirubin, INR, creatinine, ascites"} <= set(reason)


def test_vectorized_over_a_non_default_index():
    table = pd.DataFrame(KIM21_TABLE4, columns=["sex", "tbil", "na", "inr", "cr", "alb", "m3"],
                         index=pd.Index([907, 12, 450, 3, 88, 61, 5000, 2], name="visit_id"))
    table = table.iloc[::-1]  # not sorted either
    for result in (scores.meld_protocol(table.tbil, table.inr, table.cr, 1),
                   scores.meld_unos(table.tbil, table.inr, table.cr),
                   scores.meld_na(table.tbil, table.inr, table.cr, table.na),
                   scores.meld_3(table.tbil, table.inr, table.cr, table.na, table.alb,
                                 table.sex == "F"),
                   scores.child_pugh(table.tbil, table.alb * 10, table.inr, ascites="NONE",
                                     encephalopathy=0)):
        assert result.index.equals(table.index)
    assert scores.meld_3(table.tbil, table.inr, table.cr, table.na, table.alb,
                         table.sex == "F").tolist() == table.m3.astype(float).tolist()
    # row-by-row equals one-at-a-time
    one = [scores.meld_na(r.tbil, r.inr, r.cr, r.na).iloc[0] for r in table.itertuples()]
    assert scores.meld_na(table.tbil, table.inr, table.cr, table.na).tolist() == one


def test_nullable_dtypes_and_mismatched_indexes():
    tbil = pd.Series([4.2, None], index=["a", "b"], dtype="Float64")
    inr = pd.Series([1.2, 1.2], index=["a", "b"], dtype="Float64")
    assert values(scores.meld_unos(tbil, inr, 1.9)) == [20.0, None]
    with pytest.raises(ValueError, match="different indexes"):
        scores.meld_unos(tbil, pd.Series([1.2, 1.2], index=["b", "a"]), 1.9)
    with pytest.raises(ValueError, match="not a number"):
        scores.meld_unos(["4.2", "high"], 1.2, 1.9)
