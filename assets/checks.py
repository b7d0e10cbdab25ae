"""Small helpers that turn counts into asset-check results a data manager reads at a glance."""
import dagster as dg
import pandas as pd


def site_rule_table(frame: pd.DataFrame, site: str = "site_id", rule: str = "rule") -> str:
    """A markdown table of counts, one row per site, one column per rule."""
    if frame.empty:
        return "none"
    counts = frame.groupby([site, rule]).size().unstack(fill_value=0)
    header = "| site | " + " | ".join(counts.columns) + " |"
    lines = [header, "|" + "---|" * (len(counts.columns) + 1)]
    lines += [f"| {idx or '-'} | " + " | ".join(str(v) for v in row) + " |" for idx, row in counts.iterrows()]
    return "\n".join(lines)


def warn_check(name: str, problems: pd.DataFrame, table: str, asset_key: dg.AssetKey | None = None,
               **metadata) -> dg.AssetCheckResult:
    """A check that fails with WARN severity (data findings never stop the nightly run); ``asset_key``
    where the step computes several assets."""
    return dg.AssetCheckResult(
        asset_key=asset_key, check_name=name, passed=problems.empty, severity=dg.AssetCheckSeverity.WARN,
        metadata={"count": dg.MetadataValue.int(len(problems)), "by_site_and_rule": dg.MetadataValue.md(table),
                  **metadata})
