"""Vectorized liver scores for analysis data: protocol MELD, UNOS MELD, MELD-Na, MELD 3.0, CTP.

Every function takes pandas Series (or array-likes, or scalars that apply to every row) and returns
a Series on the index of the Series it was given (a RangeIndex when it was given none). Series
passed together must share one index: nothing is re-aligned silently. A missing value (None, NaN,
pd.NA, or a blank text code) in any required component gives a missing result (NaN) for that row:
a score is never guessed. ``missing_reason`` says which components were missing, for the text the
pipeline keeps beside a missing score. The functions import nothing from the pipeline.

Input checks
------------
* Refused, always (ValueError naming the argument and the row): a lab value that is not a
  positive number (bilirubin, INR, creatinine, sodium, albumin <= 0), and any value that is not
  finite (inf). A missing value is not an error: it gives a missing score.
* Unit plausibility guard (``unit_check``: "warn" - the default, ``UnitWarning`` - "raise" or
  "off"; ``None`` takes the module default ``UNIT_CHECK``): the median of a column that no real
  cohort has in the documented unit points to a unit mix-up - bilirubin > 50 mg/dL (umol/L?),
  creatinine > 20 mg/dL (umol/L?), INR > 10 (PT seconds?), sodium outside 100-200 mmol/L, albumin
  < 10 g/L for Child-Pugh (g/dL?). It warns by default so that a night of whole-column scores is
  never stopped; an interactive caller sets "raise". MELD 3.0 refuses albumin above 10 g/dL per
  value (no serum reaches it: it is g/L).

Units
-----
=====================  =====================================================================
bilirubin (``bili``)   total bilirubin, mg/dL   (from umol/L: divide by 17.1)
creatinine (``creat``) serum creatinine, mg/dL  (from umol/L: divide by 88.4)
INR (``inr``)          ratio, no unit
sodium (``sodium``)    mmol/L (= mEq/L)
albumin                g/L for Child-Pugh (``albumin_g_l``, as the pipeline holds it);
                       g/dL for MELD 3.0 (``albumin_g_dl``), convert with ``g_l_to_g_dl`` (g/L / 10)
PT prolongation        seconds beyond the control prothrombin time (``pt_prolongation``)
dialysis               True when dialysed at least twice, or 24 h of CVVHD, in the week before
                       the creatinine test; ``None`` means "not dialysed" for every row
=====================  =====================================================================

Bounds applied before the logarithms
------------------------------------
* Protocol MELD and UNOS MELD / MELD-Na (docs/study.md DMP convention = OPTN policy 9.1.D): bilirubin,
  INR and creatinine below 1.0 are set to 1.0; creatinine above 4.0 mg/dL is set to 4.0; creatinine
  is 4.0 when ``dialysis`` is True. MELD-Na: sodium is bounded to 125-137 mmol/L.
* MELD 3.0 (Kim et al. 2021; OPTN policy since 2023): bilirubin, INR, creatinine floor 1.0;
  creatinine cap 3.0 and 3.0 when dialysed; sodium 125-137 mmol/L; albumin 1.5-3.5 g/dL.
* A row whose ``dialysis`` flag is missing gets a missing score, except where its creatinine is
  already at or above the cap, so that the flag cannot change the result.

Rounding (all rounding is half up: x.5 goes to x+1; every MELD value is >= 0, so this is also
"half away from zero", ordinary arithmetic rounding, as SAS ``round`` does)
-------------------------------------------------------------------------
* ``meld_protocol``: R = 3.8 ln(TBIL) + 11.2 ln(INR) + 9.6 ln(Cr) + 6.4 E. The registry says "the
  result is taken as an integer"; we take the NEAREST integer, ties up, as the UNOS/OPTN rule
  does for MELD (to the tenth, then x 10, i.e. the nearest whole number) -- not truncation, which
  would bias every score down by 0.5 on average. No 6-40 bounds: the protocol states none (with
  E = 0 and every lab value at or below 1.0 the score is 0). ``meld_protocol_raw`` gives R
  unrounded. The protocol coefficients are the Mayo model's (Malinchoc et al. 2000; Kamath et al.
  2001: 0.378, 1.120, 0.957 and 0.643 for aetiology, times 10, i.e. 3.78, 11.2, 9.57, 6.43)
  rounded to one decimal, so R differs from the original by 0.02 ln(TBIL) + 0.03 ln(Cr) - 0.03 E
  (at most ~0.13 point for bilirubin up to 100 mg/dL); it is the registry's formula that is
  implemented, and E is the protocol's (0 biliary/cholestatic or alcoholic, 1 otherwise),
  whereas UNOS fixes the aetiology term at 1 for everyone.
* ``meld_unos`` (OPTN policy before 2016): MELD(i) = 0.957 ln(Cr) + 0.378 ln(TBIL) + 1.120 ln(INR)
  + 0.643, "rounded to the tenth decimal place and then multiplied by 10" (i.e. the nearest
  integer of 10 x MELD(i)), at most 40. ``meld_unos_raw`` gives 10 x MELD(i) unrounded.
* ``meld_na`` (OPTN policy 2016-2023, ``variant="unos2016"``): with the integer MELD(i) above,
  when MELD(i) > 11: MELD = MELD(i) + 1.32 (137 - Na) - 0.033 MELD(i) (137 - Na); otherwise
  MELD = MELD(i), and sodium is not needed (a missing sodium does not make it missing). The result
  is rounded to the nearest integer and capped at 40. ``meld_na_raw``: before rounding/cap.
  ``variant="kim2008"`` (Kim et al. 2008, the form of much of the literature): MELD-Na = MELD - Na
  - 0.025 MELD (140 - Na) + 140 with MELD = 10 x MELD(i) unrounded and sodium bounded 125-140;
  sodium always required; same rounding and cap.
* ``meld_unos(..., etiology=...)``: Kamath's original MELD, whose constant term 0.643 is multiplied
  by the aetiology (0 cholestatic or alcoholic, 1 otherwise); without ``etiology`` the UNOS form
  (the term for everyone).
* ``meld_3`` (Kim et al. 2021): 1.33 female + 4.56 ln(TBIL) + 0.82 (137 - Na)
  - 0.24 (137 - Na) ln(TBIL) + 9.09 ln(INR) + 11.14 ln(Cr) + 1.85 (3.5 - Alb)
  - 1.83 (3.5 - Alb) ln(Cr) + 6, rounded to the nearest integer, capped at 40. The adult form: OPTN
  gives the 1.33 points to every candidate aged 12-17; the trial enrols ages 18-70.
  ``meld_3_raw``: before rounding and cap.
* Before rounding, a value is first rounded to 9 decimals, so that floating-point noise in a
  value that is mathematically x.5 (e.g. 14.499999999999998) cannot turn a tie into a round-down.
  Python's ``round`` and ``numpy.round`` round ties to even and are not used for scores.

Child-Turcotte-Pugh (docs/study.md; Pugh et al. 1973)
-----------------------------------------------
1-3 points each: bilirubin <2 / 2-3 / >3 mg/dL; albumin >35 / 28-35 / <28 g/L; INR <1.7 / 1.7-2.3 /
>2.3, or, only where INR is missing, PT prolongation <4 / 4-6 / >6 s; ascites NONE 1, MILD 2,
MODERATE or SEVERE 3; hepatic encephalopathy West Haven grade 0 = 1, 1-2 = 2, 3-4 = 3. A value on
an edge (2 and 3 mg/dL, 28 and 35 g/L, INR 1.7 and 2.3, PT 4 and 6 s) belongs to the middle band;
values are rounded to 6 decimals before banding, so that unit-conversion noise (51.3 / 17.1 =
3.0000000000000004) cannot push an edge value out of its band. Score 5-15 (the registry's "0 to
15" is a slip); class A 5-6, B 7-9, C 10-15.

References
----------
* Malinchoc M, et al. A model to predict poor survival in patients undergoing transjugular
  intrahepatic portosystemic shunts. Hepatology 2000;31:864-871.
* Kamath PS, et al. A model to predict survival in patients with end-stage liver disease.
  Hepatology 2001;33:464-470.
* Wiesner R, et al. Model for end-stage liver disease (MELD) and allocation of donor livers.
  Gastroenterology 2003;124:91-96.
* OPTN policy 9.1.D, MELD score (policy notice 11/2015, MELD-Na from January 2016).
* Kim WR, et al. Hyponatremia and mortality among patients on the liver-transplant waiting list.
  N Engl J Med 2008;359:1018-1026.
* Kim WR, et al. MELD 3.0: the Model for End-Stage Liver Disease updated for the modern era.
  Gastroenterology 2021;161:1887-1895.e4.
* Child CG, Turcotte JG. Surgery and portal hypertension. 1964; Pugh RNH, et al. Transection of
  the oesophagus for bleeding oesophageal varices. Br J Surg 1973;60:646-649.
* Vilstrup H, et al. Hepatic encephalopathy in chronic liver disease: 2014 practice guideline
  (West Haven criteria). Hepatology 2014;60:715-735.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "meld_protocol", "meld_protocol_raw", "meld_unos", "meld_unos_raw", "meld_na", "meld_na_raw",
    "meld_3", "meld_3_raw", "g_l_to_g_dl", "child_pugh_points", "child_pugh", "missing_reason",
    "UnitWarning", "UNIT_CHECK",
]

MELD_CAP = 40.0
UNOS_CREATININE_CAP = 4.0      # mg/dL, protocol MELD, UNOS MELD and MELD-Na
MELD3_CREATININE_CAP = 3.0     # mg/dL, MELD 3.0
SODIUM_LOW, SODIUM_HIGH = 125.0, 137.0
KIM2008_SODIUM_HIGH = 140.0
ETIOLOGY_E = {"cholestatic": 0.0, "biliary": 0.0, "alcoholic": 0.0, "alcohol": 0.0, "other": 1.0}

UNIT_CHECK = "warn"            # default of every function's ``unit_check``: "warn", "raise" or "off"
# argument -> (is the column median implausible?, what it suggests)
_UNIT_GUARD = {
    "bilirubin": (lambda m: m > 50.0, "above 50 mg/dL: umol/L? divide by 17.1"),
    "creatinine": (lambda m: m > 20.0, "above 20 mg/dL: umol/L? divide by 88.4"),
    "INR": (lambda m: m > 10.0, "above 10: prothrombin time in seconds instead of INR?"),
    "sodium": (lambda m: m < 100.0 or m > 200.0, "outside 100-200 mmol/L: another unit?"),
    "albumin": (lambda m: m < 10.0, "below 10 g/L: g/dL? multiply by 10"),
}
_POSITIVE = {"bilirubin", "INR", "creatinine", "sodium", "albumin", "albumin_g_dl"}


class UnitWarning(UserWarning):
    """A column's values are implausible in the documented unit (a likely unit mix-up)."""
ALBUMIN_G_DL_LOW, ALBUMIN_G_DL_HIGH = 1.5, 3.5

ASCITES_POINTS = {"NONE": 1, "MILD": 2, "MODERATE": 3, "SEVERE": 3}

_TIE_DECIMALS = 9     # a score is rounded to this many decimals before rounding half up
_BAND_DECIMALS = 6    # a lab value is rounded to this many decimals before Child-Pugh banding


# ------------------------------------------------------------------------------------------------
# Input handling
# ------------------------------------------------------------------------------------------------

def _is_scalar(value: Any) -> bool:
    return value is None or np.ndim(value) == 0


def _common_index(**values: Any) -> pd.Index:
    """The index the result is given: the one every Series argument shares, else 0..n-1."""
    index: pd.Index | None = None
    first = ""
    length: int | None = None
    for name, value in values.items():
        if isinstance(value, pd.Series):
            if index is None:
                index, first = value.index, name
            elif not value.index.equals(index):
                raise ValueError(f"{name!r} and {first!r} have different indexes; "
                                 "align them first (nothing is re-aligned silently)")
        elif isinstance(value, pd.DataFrame):
            raise TypeError(f"{name!r} is a DataFrame; pass one column (a Series)")
        elif not _is_scalar(value):
            n = len(value)
            if length is not None and n != length:
                raise ValueError(f"{name!r} has {n} values where another argument has {length}")
            length = n
    if index is not None:
        if length is not None and length != len(index):
            raise ValueError(f"an array argument has {length} values; the Series have {len(index)}")
        return index
    return pd.RangeIndex(length if length is not None else 1)


_NO_TEXT = {"floating", "integer", "mixed-integer-float", "decimal", "boolean", "empty"}


def _is_missing_text(values: np.ndarray) -> np.ndarray:
    """True where a value is missing: None, NaN, pd.NA, NaT, or text that is blank."""
    missing = np.asarray(pd.isna(values), dtype=bool)
    if pd.api.types.infer_dtype(values, skipna=True) in _NO_TEXT:    # no text to look at, value by value
        return missing
    blank = np.array([isinstance(v, str) and not v.strip() for v in values], dtype=bool)
    return missing | blank


def _raw(value: Any, index: pd.Index) -> np.ndarray:
    """The argument's values as an object array as long as the index (a scalar is repeated)."""
    if _is_scalar(value):
        out = np.empty(len(index), dtype=object)
        out[:] = [value] * len(index)
        return out
    if isinstance(value, pd.Series):
        return value.to_numpy(dtype=object)
    return np.asarray(list(value), dtype=object)


def _numeric(value: Any, index: pd.Index, name: str) -> np.ndarray:
    """Float array, NaN where missing. Text that is not a number is an error, never a NaN."""
    raw = _raw(value, index)
    missing = _is_missing_text(raw)
    out = np.full(len(raw), np.nan)
    present = raw[~missing]
    if len(present):
        try:
            converted = pd.to_numeric(pd.Series(present, dtype=object), errors="raise")
        except (ValueError, TypeError) as error:
            raise ValueError(f"{name}: a value is not a number ({error})") from None
        out[~missing] = np.asarray(converted, dtype=float)
    bad = np.isinf(out)
    if name in _POSITIVE:
        bad |= out <= 0
    if bad.any():
        rows = ", ".join(f"row {index[k]!r}: {out[k]:g}" for k in np.flatnonzero(bad)[:3])
        more = f" (and {int(bad.sum()) - 3} more)" if bad.sum() > 3 else ""
        need = "a positive finite number" if name in _POSITIVE else "a finite number"
        raise ValueError(f"{name} must be {need}; {rows}{more}")
    return out


def _guard(name: str, values: np.ndarray, unit_check: str | None) -> None:
    """Warn or raise when the column's median is implausible in the documented unit."""
    mode = UNIT_CHECK if unit_check is None else unit_check
    if mode not in ("warn", "raise", "off"):
        raise ValueError("unit_check must be 'warn', 'raise' or 'off'")
    if mode == "off" or name not in _UNIT_GUARD or np.isnan(values).all():
        return
    implausible, hint = _UNIT_GUARD[name]
    median = float(np.nanmedian(values))
    if implausible(median):
        message = f"{name}: median {median:g} is implausible, {hint}"
        if mode == "raise":
            raise ValueError(message)
        import warnings

        warnings.warn(message, UnitWarning, stacklevel=4)


def _lab(value: Any, index: pd.Index, name: str, unit_check: str | None) -> np.ndarray:
    """A lab component: numeric, validated, unit-guarded."""
    out = _numeric(value, index, name)
    _guard(name, out, unit_check)
    return out


def _etiology(etiology: Any, index: pd.Index) -> np.ndarray:
    """Kamath's aetiology term: 0 cholestatic/biliary or alcoholic, 1 other; or 0/1, True/False."""
    raw = _raw(etiology, index)
    missing = _is_missing_text(raw)
    out = np.full(len(raw), np.nan)
    for k in np.flatnonzero(~missing):
        v = raw[k]
        if isinstance(v, str):
            code = v.strip().lower()
            if code not in ETIOLOGY_E:
                raise ValueError(f"etiology: unknown code {v!r} at row {index[k]!r}; expected one of "
                                 f"{sorted(ETIOLOGY_E)} or 0/1")
            out[k] = ETIOLOGY_E[code]
        else:
            out[k] = float(v)
            if out[k] not in (0.0, 1.0):
                raise ValueError(f"etiology: expected 0/1 at row {index[k]!r}, found {v!r}")
    return out


def _flag(value: Any, index: pd.Index, name: str) -> np.ndarray:
    """0/1 float array (NaN where missing) from booleans or 0/1 numbers."""
    out = _numeric(value, index, name)
    bad = ~np.isnan(out) & ~np.isin(out, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"{name}: expected True/False or 1/0, found {sorted(set(out[bad]))}")
    return out


def _series(values: np.ndarray, index: pd.Index, name: str) -> pd.Series:
    return pd.Series(values, index=index, name=name, dtype="float64")


def _round_half_up(x: np.ndarray) -> np.ndarray:
    """Nearest integer, ties up; NaN stays NaN. See the module docstring for why not np.round."""
    return np.floor(np.round(x, _TIE_DECIMALS) + 0.5)


def _floor1(x: np.ndarray) -> np.ndarray:
    return np.where(x < 1.0, 1.0, x)  # NaN stays NaN (NaN < 1.0 is False)


def _creatinine(creat: np.ndarray, dialysis: np.ndarray | None, cap: float) -> np.ndarray:
    """Creatinine as used: floor 1.0, cap, the cap after dialysis; NaN if the flag matters and
    is missing."""
    used = np.clip(_floor1(creat), None, cap)
    if dialysis is None:
        return used
    used = np.where(dialysis == 1.0, cap, used)
    unknown = np.isnan(dialysis) & ~(creat >= cap)
    return np.where(unknown, np.nan, used)


def _dialysis(dialysis: Any, index: pd.Index) -> np.ndarray | None:
    return None if dialysis is None else _flag(dialysis, index, "dialysis")


# ------------------------------------------------------------------------------------------------
# MELD
# ------------------------------------------------------------------------------------------------

def meld_protocol_raw(bili, inr, creat, etiology_e, dialysis=None, *, unit_check=None) -> pd.Series:
    """Protocol MELD R = 3.8 ln(TBIL) + 11.2 ln(INR) + 9.6 ln(Cr) + 6.4 E, bounded, not rounded.

    ``etiology_e``: 0 when the liver disease is biliary (cholestatic) or alcoholic, 1 otherwise
    (True/False accepted). Bounds: lab values below 1.0 set to 1.0, creatinine above 4.0 mg/dL set
    to 4.0, creatinine 4.0 when ``dialysis`` is True.
    """
    index = _common_index(bili=bili, inr=inr, creat=creat, etiology_e=etiology_e,
                          dialysis=dialysis)
    b, i, c = _unos_components(bili, inr, creat, dialysis, index, unit_check)
    e = _flag(etiology_e, index, "etiology_e")
    r = 3.8 * np.log(b) + 11.2 * np.log(i) + 9.6 * np.log(c) + 6.4 * e
    return _series(r, index, "meld_protocol_raw")


def meld_protocol(bili, inr, creat, etiology_e, dialysis=None, *, unit_check=None) -> pd.Series:
    """Protocol MELD as an integer: ``meld_protocol_raw`` rounded to the nearest integer, ties up.

    No 6-40 bounds (the protocol gives none); see the module docstring for the rounding rule.
    """
    raw = meld_protocol_raw(bili, inr, creat, etiology_e, dialysis, unit_check=unit_check)
    return _series(_round_half_up(raw.to_numpy()), raw.index, "meld_protocol")


def _unos_components(bili, inr, creat, dialysis, index, unit_check):
    """Bilirubin, INR, creatinine as the UNOS MELD uses them (floor 1.0, creatinine cap/dialysis)."""
    b = _floor1(_lab(bili, index, "bilirubin", unit_check))
    i = _floor1(_lab(inr, index, "INR", unit_check))
    c = _creatinine(_lab(creat, index, "creatinine", unit_check), _dialysis(dialysis, index),
                    UNOS_CREATININE_CAP)
    return b, i, c


def _meld_i_x10(b, i, c, e=1.0):
    return 10.0 * (0.957 * np.log(c) + 0.378 * np.log(b) + 1.120 * np.log(i) + 0.643 * e)


def meld_unos_raw(bili, inr, creat, dialysis=None, *, etiology=None, unit_check=None) -> pd.Series:
    """10 x (0.957 ln(Cr) + 0.378 ln(TBIL) + 1.120 ln(INR) + 0.643 E), bounded, unrounded.

    ``etiology`` (Kamath 2001): "cholestatic"/"biliary" or "alcoholic" -> E = 0, "other" -> 1, or
    0/1; None: UNOS's E = 1 for everyone."""
    index = _common_index(bili=bili, inr=inr, creat=creat, dialysis=dialysis, etiology=etiology)
    b, i, c = _unos_components(bili, inr, creat, dialysis, index, unit_check)
    e = 1.0 if etiology is None else _etiology(etiology, index)
    return _series(_meld_i_x10(b, i, c, e), index, "meld_unos_raw")


def meld_unos(bili, inr, creat, dialysis=None, *, etiology=None, unit_check=None) -> pd.Series:
    """UNOS/OPTN MELD (pre-2016), or Kamath's with ``etiology``: nearest integer of
    ``meld_unos_raw`` (ties up), at most 40."""
    raw = meld_unos_raw(bili, inr, creat, dialysis, etiology=etiology, unit_check=unit_check)
    return _series(np.minimum(_round_half_up(raw.to_numpy()), MELD_CAP), raw.index, "meld_unos")


def meld_na_raw(bili, inr, creat, sodium, dialysis=None, *, variant="unos2016",
                unit_check=None) -> pd.Series:
    """MELD-Na before its final rounding and cap.

    ``variant="unos2016"`` (OPTN): MELD(i) is the integer UNOS MELD before the cap (MELD(i) to the
    tenth, times 10). When MELD(i) > 11: MELD(i) + 1.32 (137 - Na) - 0.033 MELD(i) (137 - Na),
    sodium bounded 125-137; otherwise MELD(i), whatever the sodium (missing included), as UNOS
    does not use it there. ``variant="kim2008"``: MELD - Na - 0.025 MELD (140 - Na) + 140 with
    the unrounded MELD, sodium bounded 125-140 and required.
    """
    if variant not in ("unos2016", "kim2008"):
        raise ValueError("variant must be 'unos2016' or 'kim2008'")
    index = _common_index(bili=bili, inr=inr, creat=creat, sodium=sodium, dialysis=dialysis)
    b, i, c = _unos_components(bili, inr, creat, dialysis, index, unit_check)
    na_given = _lab(sodium, index, "sodium", unit_check)
    if variant == "kim2008":
        meld = _meld_i_x10(b, i, c)
        na = np.clip(na_given, SODIUM_LOW, KIM2008_SODIUM_HIGH)
        return _series(meld - na - 0.025 * meld * (140.0 - na) + 140.0, index, "meld_na_raw")
    meld_i = _round_half_up(_meld_i_x10(b, i, c))
    na = np.clip(na_given, SODIUM_LOW, SODIUM_HIGH)
    deficit = 137.0 - na
    adjusted = meld_i + 1.32 * deficit - 0.033 * meld_i * deficit
    out = np.where(meld_i > 11.0, adjusted, meld_i)
    return _series(out, index, "meld_na_raw")


def meld_na(bili, inr, creat, sodium, dialysis=None, *, variant="unos2016",
            unit_check=None) -> pd.Series:
    """MELD-Na (OPTN 2016, or Kim 2008 with ``variant="kim2008"``): ``meld_na_raw`` rounded to the
    nearest integer (ties up), at most 40."""
    raw = meld_na_raw(bili, inr, creat, sodium, dialysis, variant=variant, unit_check=unit_check)
    return _series(np.minimum(_round_half_up(raw.to_numpy()), MELD_CAP), raw.index, "meld_na")


def g_l_to_g_dl(albumin_g_l) -> Any:
    """Albumin g/L -> g/dL (divide by 10), for ``meld_3``. Keeps a Series a Series."""
    if isinstance(albumin_g_l, pd.Series):
        return pd.to_numeric(albumin_g_l, errors="raise") / 10.0
    return np.asarray(albumin_g_l, dtype=float) / 10.0


def meld_3_raw(bili, inr, creat, sodium, albumin_g_dl, female, dialysis=None, *,
               unit_check=None) -> pd.Series:
    """MELD 3.0 (Kim et al. 2021) with its bounds, before rounding and the cap of 40.

    ``albumin_g_dl`` is in g/dL: the pipeline holds g/L, use ``g_l_to_g_dl``. A value above 10 is
    taken as a unit error (no serum albumin is 10 g/dL) and raises ValueError. ``female``:
    True/1 for female, False/0 for male.
    """
    index = _common_index(bili=bili, inr=inr, creat=creat, sodium=sodium,
                          albumin_g_dl=albumin_g_dl, female=female, dialysis=dialysis)
    b = _floor1(_lab(bili, index, "bilirubin", unit_check))
    i = _floor1(_lab(inr, index, "INR", unit_check))
    c = _creatinine(_lab(creat, index, "creatinine", unit_check), _dialysis(dialysis, index),
                    MELD3_CREATININE_CAP)
    na = np.clip(_lab(sodium, index, "sodium", unit_check), SODIUM_LOW, SODIUM_HIGH)
    alb_given = _numeric(albumin_g_dl, index, "albumin_g_dl")
    if np.nanmax(alb_given, initial=0.0) > 10.0:
        raise ValueError("albumin_g_dl has values above 10: they look like g/L; "
                         "pass g_l_to_g_dl(albumin_g_l)")
    alb = np.clip(alb_given, ALBUMIN_G_DL_LOW, ALBUMIN_G_DL_HIGH)
    f = _flag(female, index, "female")
    lb, lc = np.log(b), np.log(c)
    na_def, alb_def = 137.0 - na, 3.5 - alb
    score = (1.33 * f + 4.56 * lb + 0.82 * na_def - 0.24 * na_def * lb + 9.09 * np.log(i)
             + 11.14 * lc + 1.85 * alb_def - 1.83 * alb_def * lc + 6.0)
    return _series(score, index, "meld_3_raw")


def meld_3(bili, inr, creat, sodium, albumin_g_dl, female, dialysis=None, *,
           unit_check=None) -> pd.Series:
    """MELD 3.0: ``meld_3_raw`` rounded to the nearest integer (ties up), at most 40."""
    raw = meld_3_raw(bili, inr, creat, sodium, albumin_g_dl, female, dialysis,
                     unit_check=unit_check)
    return _series(np.minimum(_round_half_up(raw.to_numpy()), MELD_CAP), raw.index, "meld_3")


# ------------------------------------------------------------------------------------------------
# Child-Turcotte-Pugh
# ------------------------------------------------------------------------------------------------

def _bands(x: np.ndarray, low: float, high: float, *, descending: bool = False) -> np.ndarray:
    """1/2/3 points with both edges in the middle band; NaN where x is missing.

    Ascending (bilirubin, INR, PT): < low -> 1, low..high -> 2, > high -> 3.
    Descending (albumin): > high -> 1, low..high -> 2, < low -> 3.
    """
    v = np.round(x, _BAND_DECIMALS)
    if descending:
        points = np.where(v > high, 1.0, np.where(v >= low, 2.0, 3.0))
    else:
        points = np.where(v < low, 1.0, np.where(v <= high, 2.0, 3.0))
    return np.where(np.isnan(v), np.nan, points)


def _ascites_points(ascites: Any, index: pd.Index) -> np.ndarray:
    raw = _raw(ascites, index)
    missing = _is_missing_text(raw)
    out = np.full(len(raw), np.nan)
    unknown = set()
    for k in np.flatnonzero(~missing):
        code = str(raw[k]).strip().upper()
        if code in ASCITES_POINTS:
            out[k] = ASCITES_POINTS[code]
        else:
            unknown.add(raw[k])
    if unknown:
        raise ValueError(f"ascites: unknown code(s) {sorted(map(str, unknown))}; "
                         f"expected one of {sorted(ASCITES_POINTS)}")
    return out


def _encephalopathy_points(grade: Any, index: pd.Index) -> np.ndarray:
    g = _numeric(grade, index, "encephalopathy")
    bad = ~np.isnan(g) & ~np.isin(g, (0.0, 1.0, 2.0, 3.0, 4.0))
    if bad.any():
        raise ValueError(f"encephalopathy: West Haven grade must be 0-4, found "
                         f"{sorted(set(g[bad]))}")
    points = np.where(g == 0, 1.0, np.where(g <= 2, 2.0, 3.0))
    return np.where(np.isnan(g), np.nan, points)


def child_pugh_points(bili, albumin_g_l, inr=None, pt_prolongation=None, *, ascites,
                      encephalopathy, unit_check=None) -> pd.DataFrame:
    """Child-Pugh points per component (1-3, NaN where missing), one row per input row.

    Columns: bilirubin, albumin, coagulation, coagulation_source ("INR", or "PT" where INR is
    missing and PT prolongation is given), ascites, encephalopathy. ``ascites``: NONE, MILD,
    MODERATE, SEVERE (any case; blank = missing). ``encephalopathy``: West Haven grade 0-4.
    """
    index = _common_index(bili=bili, albumin_g_l=albumin_g_l, inr=inr,
                          pt_prolongation=pt_prolongation, ascites=ascites,
                          encephalopathy=encephalopathy)
    inr_pts = _bands(_lab(inr, index, "INR", unit_check), 1.7, 2.3)
    pt_pts = _bands(_numeric(pt_prolongation, index, "PT prolongation"), 4.0, 6.0)
    use_inr = ~np.isnan(inr_pts)
    coagulation = np.where(use_inr, inr_pts, pt_pts)
    source = np.where(use_inr, "INR", np.where(np.isnan(pt_pts), None, "PT")).astype(object)
    return pd.DataFrame({
        "bilirubin": _bands(_lab(bili, index, "bilirubin", unit_check), 2.0, 3.0),
        "albumin": _bands(_lab(albumin_g_l, index, "albumin", unit_check), 28.0, 35.0,
                          descending=True),
        "coagulation": coagulation,
        "coagulation_source": pd.Series(source, index=index, dtype=object),
        "ascites": _ascites_points(ascites, index),
        "encephalopathy": _encephalopathy_points(encephalopathy, index),
    }, index=index)


def child_pugh(bili, albumin_g_l, inr=None, pt_prolongation=None, *, ascites,
               encephalopathy, unit_check=None) -> pd.DataFrame:
    """Child-Pugh score (5-15) and class (A 5-6, B 7-9, C 10-15); both missing where any
    component is missing. Arguments as ``child_pugh_points``."""
    points = child_pugh_points(bili, albumin_g_l, inr, pt_prolongation, ascites=ascites,
                               encephalopathy=encephalopathy, unit_check=unit_check)
    parts = points[["bilirubin", "albumin", "coagulation", "ascites", "encephalopathy"]]
    score = parts.sum(axis=1, skipna=False).to_numpy(dtype=float)
    klass = np.where(score <= 6, "A", np.where(score <= 9, "B", "C")).astype(object)
    klass[np.isnan(score)] = None
    return pd.DataFrame({"score": pd.Series(score, index=points.index, dtype="float64"),
                         "class": pd.Series(klass, index=points.index, dtype=object)},
                        index=points.index)


# ------------------------------------------------------------------------------------------------
# Why a score is missing
# ------------------------------------------------------------------------------------------------

def missing_reason(**components) -> pd.Series:
    """Which components are missing, row by row: ``"missing: INR, creatinine"``, ``""`` if none.

    The keyword is the name shown, in the order given, e.g.
    ``missing_reason(bilirubin=df.tbil, INR=df.inr, creatinine=df.creat)``. For a component with
    an alternative (Child-Pugh INR, else PT), pass the combined Series, e.g.
    ``**{"INR or PT": df.inr.combine_first(df.pt)}``. A blank text value counts as missing.
    """
    if not components:
        raise TypeError("missing_reason needs at least one component")
    index = _common_index(**components)
    names = list(components)
    # each row's missing components as the bits of one number, each distinct combination worded once
    bits = sum(_is_missing_text(_raw(value, index)).astype(np.int64) << k
               for k, value in enumerate(components.values()))
    codes, combinations = pd.factorize(np.asarray(bits, dtype=np.int64).reshape(len(index)))
    texts = ["missing: " + ", ".join(n for k, n in enumerate(names) if combination >> k & 1) if combination else ""
             for combination in combinations]
    return pd.Series(np.array(texts + [""], dtype=object)[codes], index=index, name="missing_reason", dtype=object)
