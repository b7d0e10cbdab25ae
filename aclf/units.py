"""Lab harmonization: results parsed, units mapped to CDISC, values converted to protocol units.

Pure functions on DataFrames, driven by ``study/lab.yaml``. Conversion is decimal, not binary
floating point, so a value on a threshold (85.5 umol/L = 5 mg/dL) stays on its side. Nothing is
dropped: a result that cannot be converted keeps its original and says why in ``unit_status`` or
``result_kind``, for the rules to report.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import lru_cache
from types import MappingProxyType

import numpy as np
import pandas as pd

from aclf.config import LabConfig
from aclf.isodate import per_distinct

NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_NUMERIC = re.compile(rf"^{NUMBER}$")
_CENSORED = re.compile(rf"^(?P<op><=|>=|<|>|≤|≥)\s*(?P<value>{NUMBER})$")
_RANGE = re.compile(rf"^(?P<low>{NUMBER})\s*[-–~]\s*(?P<high>{NUMBER})$")
_UPPER = re.compile(rf"^(?:<|<=|≤)\s*(?P<high>{NUMBER})$")
_LOWER = re.compile(rf"^(?:>|>=|≥)\s*(?P<low>{NUMBER})$")
_ASCII_OP = {"≤": "<=", "≥": ">="}


def _parts(fraction: str) -> tuple[Decimal, Decimal]:
    """A conversion factor as written in study/lab.yaml ('1/17.1', '10'): numerator, denominator."""
    numerator, _, denominator = fraction.partition("/")
    return Decimal(numerator), Decimal(denominator or "1")


@lru_cache(maxsize=None)
def _factor(fraction: str) -> Decimal:
    numerator, denominator = _parts(fraction)
    return numerator / denominator


@lru_cache(maxsize=200_000)
def convert(value: str, fraction: str, decimals: int) -> Decimal:
    """``value`` x ``fraction`` in decimal arithmetic, rounded half up to ``decimals`` places.

    The context holds every digit of the result, however long the number sent: the default 28
    digits made a 31-digit result raise InvalidOperation (the plausible-range rule judges it)."""
    number = Decimal(value)
    digits = len(number.as_tuple().digits) + max(number.adjusted(), 0) + decimals + 40
    exact = Context(prec=digits).multiply(number, _factor(fraction))
    return exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP, context=Context(prec=digits))


def limit_in_unit(value: str, fraction: str, to_fraction: str) -> str:
    """A reference limit sent in one unit, as text in another of the same test (``fraction`` and
    ``to_fraction``: each unit's factor to the standard unit): 4.0 g/dL is 40 g/L. One division of
    exact products, rounded half up to six decimals (as a result without a configured precision
    is), so a limit that ends in a tie is rounded as written. Text that is not a plain number is
    returned as it is, for ``original_limits`` to judge."""
    if not _NUMERIC.match(value.strip()):
        return value
    number = Decimal(value.strip())
    (n_from, d_from), (n_to, d_to) = _parts(fraction), _parts(to_fraction)
    exact = Context(prec=len(number.as_tuple().digits) + max(number.adjusted(), 0) + 60)
    converted = exact.divide(exact.multiply(exact.multiply(number, n_from), d_to), exact.multiply(d_from, n_to))
    return decimal_text(converted.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP, context=exact))


def _as_float(value) -> float:
    """A converted result as a float; NaN when missing or beyond a float's range (1e308 x 17.1)."""
    number = float(value) if isinstance(value, Decimal) else np.nan
    return number if np.isfinite(number) else np.nan


def decimal_text(value: Decimal) -> str:
    """A standard result as character (SDTM --STRESC): no exponent, no trailing zeros."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def classify_results(result: pd.Series, comment: pd.Series, lab: LabConfig) -> pd.DataFrame:
    """Each result as: number | censored (operator + limit) | not_done (reason) | unknown_text."""
    text = result.fillna("").astype(str).str.strip()
    out = pd.DataFrame({"kind": "unknown_text", "value": "", "operator": "", "reason": ""}, index=result.index)
    numeric = text.str.fullmatch(_NUMERIC.pattern)
    out.loc[numeric, "kind"] = "number"
    out.loc[numeric, "value"] = text[numeric]
    censored = text.str.extract(_CENSORED)
    is_censored = censored["value"].notna()
    out.loc[is_censored, "kind"] = "censored"
    out.loc[is_censored, "value"] = censored.loc[is_censored, "value"]
    out.loc[is_censored, "operator"] = censored.loc[is_censored, "op"].replace(_ASCII_OP)
    reasons = lab.reason_of_text
    from_text = text.str.casefold().map(reasons)
    from_comment = comment.fillna("").astype(str).str.strip().str.casefold().map(reasons)
    empty = text == ""
    reason = from_text.where(~empty, from_comment.fillna(lab.empty_result))
    not_done = reason.notna() & ~numeric & ~is_censored
    out.loc[not_done, "kind"] = "not_done"
    out.loc[not_done, "reason"] = reason[not_done]
    return out


def _convert_column(values: pd.Series, fractions: pd.Series, decimals: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Decimal conversion of the rows that have a value and a factor: the standard value as text
    (SDTM --STRESC; '' for the others) and as a float (NaN for the others). Each distinct (value,
    factor, decimals) is converted once: results repeat, and 800,000 rows took seconds row by row."""
    ok = values.notna() & (values != "") & fractions.notna()
    sent = pd.DataFrame({"value": values[ok], "fraction": fractions[ok], "decimals": decimals[ok]})
    codes = sent.groupby(list(sent.columns), sort=False, dropna=False).ngroup().to_numpy()   # as first seen
    converted = [convert(v, f, int(d)) for v, f, d in sent.drop_duplicates().itertuples(index=False)]
    texts = np.array([decimal_text(d) for d in converted] + [""], dtype=object)
    numbers = np.array([_as_float(d) for d in converted] + [np.nan], dtype=float)
    rows = np.full(len(values), len(converted))                   # the last entry: no value
    rows[ok.to_numpy()] = codes
    return (pd.Series(texts[rows], index=values.index, dtype=object),
            pd.Series(numbers[rows], index=values.index, dtype=float))


@per_distinct
def _limit_in_range(text: pd.Series, limit: str) -> pd.Series:
    """The ``low`` or ``high`` limit of a range sent as one string ('3.4-20.5', '<40', '>35'), or NaN."""
    text = text.fillna("").astype(str).str.strip()
    both, one = text.str.extract(_RANGE), text.str.extract(_UPPER if limit == "high" else _LOWER)
    return both[limit].fillna(one[limit])


@per_distinct
def _numeric_or_empty(text: pd.Series) -> pd.Series:
    return text.where(text.str.fullmatch(_NUMERIC.pattern), "")


def _split_range(low: pd.Series, high: pd.Series, text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Reference limits from separate columns, or parsed from one string ('3.4-20.5', '<40', '>35');
    parsed once per distinct text (the ranges of a lab repeat over its rows)."""
    low = low.fillna("").astype(str).str.strip()
    high = high.fillna("").astype(str).str.strip()
    low = low.where(low != "", _limit_in_range(text, "low").fillna("").astype(str))
    high = high.where(high != "", _limit_in_range(text, "high").fillna("").astype(str))
    return _numeric_or_empty(low).astype(str), _numeric_or_empty(high).astype(str)


def normal_range_indicator(value: pd.Series, low: pd.Series, high: pd.Series) -> pd.Series:
    """LOW / HIGH / NORMAL against the standard range; '' without a value or without any limit."""
    out = pd.Series("", index=value.index, dtype=object)
    has = value.notna() & (low.notna() | high.notna())
    out[has] = "NORMAL"
    out[has & low.notna() & (value < low)] = "LOW"
    out[has & high.notna() & (value > high)] = "HIGH"
    return out


def original_limits(staged: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The reference limits of staged records in their original unit, as text ('' for none): from
    ``ref_low`` and ``ref_high``, else parsed from ``ref_range``. The only way the reference
    columns reach the harmonized table."""
    return _split_range(staged.get("ref_low", pd.Series(index=staged.index)),
                        staged.get("ref_high", pd.Series(index=staged.index)),
                        staged.get("ref_range", pd.Series(index=staged.index)))


def _outside_agreement(staged: pd.DataFrame, unit_cd: pd.Series, convertible: pd.Series,
                       agreed: Mapping[tuple[str, str], list[str]]) -> pd.Series:
    """The records of a (source, local test) sent in a unit its transfer specification does not list,
    of those the study test would convert (an unknown unit, or one without a conversion, says so)."""
    outside = pd.Series(False, index=staged.index)
    for (source, raw), units in agreed.items():
        outside |= (staged["source"] == source) & (staged["test_raw"] == raw) & ~unit_cd.isin(units)
    return outside & convertible


def harmonize_results(staged: pd.DataFrame, lab: LabConfig,
                      agreed: Mapping[tuple[str, str], list[str]] = MappingProxyType({})) -> pd.DataFrame:
    """Standard results for staged lab records (``lbtestcd``, ``result``, ``unit``, reference columns;
    ``source`` and ``test_raw`` where ``agreed`` names the units a source's local test may be sent in).

    Adds: lbtest, lborres/lborresu (as sent), unit_cd (CDISC unit of the original), unit_status
    (ok | unknown_unit | not_agreed | no_conversion), result_kind, censor_op, lbstresc, lbstresn,
    lbstresu, lbstat/lbreasnd, reference limits in original and standard units, lbnrind.
    """
    tests = lab.tests
    out = pd.DataFrame(index=staged.index)
    out["lbtest"] = staged["lbtestcd"].map({k: t.name for k, t in tests.items()}).fillna("")
    out["lborres"] = staged["result"].fillna("")
    out["lborresu"] = staged["unit"].fillna("")
    unit_cd = out["lborresu"].str.strip().map(lab.unit_of_spelling)
    out["unit_cd"] = unit_cd.fillna("")
    pair = staged["lbtestcd"] + "\x1f" + unit_cd.fillna("\x00")
    factors = {f"{code}\x1f{unit}": frac for code, t in tests.items() for unit, frac in t.convert.items()}
    fraction = pair.map(factors)
    outside = _outside_agreement(staged, unit_cd, fraction.notna(), agreed)
    fraction = fraction.mask(outside)
    out["unit_status"] = np.select([unit_cd.isna(), outside, fraction.isna()],
                                   ["unknown_unit", "not_agreed", "no_conversion"], "ok")
    out["lbstresu"] = staged["lbtestcd"].map({k: t.standard_unit for k, t in tests.items()}).fillna("")
    decimals = staged["lbtestcd"].map({k: t.decimals for k, t in tests.items()}).fillna(6)

    kinds = classify_results(staged["result"], staged.get("comment", pd.Series("", index=staged.index)), lab)
    out["result_kind"] = kinds["kind"]
    out["censor_op"] = kinds["operator"]
    out["lbstat"] = np.where(kinds["kind"] == "not_done", "NOT DONE", "")
    out["lbreasnd"] = kinds["reason"]
    text, number = _convert_column(kinds["value"].where(kinds["kind"].isin(["number", "censored"])), fraction,
                                   decimals)
    out["lbstresc"] = np.where(kinds["kind"] == "censored", kinds["operator"] + text, text)
    out["lbstresn"] = number.where(kinds["kind"] == "number")
    out["censor_limit"] = number.where(kinds["kind"] == "censored")

    low, high = original_limits(staged)
    out["lbornrlo"], out["lbornrhi"] = low, high
    for name, raw in (("lbstnrlo", low), ("lbstnrhi", high)):
        out[name] = _convert_column(raw.where(raw != ""), fraction, decimals)[1]
    out["lbnrind"] = normal_range_indicator(out["lbstresn"], out["lbstnrlo"], out["lbstnrhi"])
    return out
