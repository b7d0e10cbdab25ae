"""The run report: every transfer in the registry with its status and reconciled counts.

Built from the store alone, so the CLI, a Dagster run and a later inspection all agree.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from aclf.blinding import stage2_of_entities
from aclf.config import Study
from aclf.registry import data_night, outcome_of
from aclf.report_html import HTML_NAME, render_report_html
from aclf.store import audit_event, finding, form_record, lab_result, transfer

REPORT_NAME = "run_report.json"
COUNTS = ("rows_read", "rows_loaded", "rows_quarantined")


def _findings(conn: sa.Connection) -> dict:
    rows = pd.read_sql(sa.select(finding.c.site_id, finding.c.rule, finding.c.severity, finding.c.status)
                       .where(finding.c.level == "blinded"), conn)   # stage-2 findings: the unblinded area
    open_ = rows[rows["status"] == "open"]
    by_site = {site or "-": dict(sorted(group["rule"].value_counts().items()))
               for site, group in open_.groupby(open_["site_id"].fillna(""))}
    return {"open": len(open_), "closed": int((rows["status"] == "closed").sum()),
            "open_by_severity": {k: int(v) for k, v in sorted(open_["severity"].value_counts().items())},
            "open_by_site_and_rule": {k: {r: int(n) for r, n in v.items()} for k, v in sorted(by_site.items())},
            "listing": "findings/findings.csv"}


def _quality(output: Path | None) -> dict | None:
    path = output / "quality" / "result.json" if output else None
    if path is None or not path.exists():
        return None
    result = json.loads(path.read_text(encoding="utf-8"))
    return {"success": result["success"], "evaluated": result["evaluated"], "failed": len(result["failed"]),
            "data_docs": "quality/index.html"}


def _packages(output: Path | None) -> dict:
    """Each area's packages as their status files say: refreshed tonight or not (and why), the
    datasets of the package in force and when it was written. Keyed by folder under the output."""
    found = {}
    for path in sorted(output.glob("*/status/*.json")) if output else []:
        status = json.loads(path.read_text(encoding="utf-8"))
        found[status["folder"]] = {k: status[k] for k in ("package", "refreshed", "written_at", "datasets", "reason",
                                                           "violations")} | {"unchanged": status.get("unchanged", False)}
    return found


def _audit_counts(conn: sa.Connection, study: Study, night: str | None = None) -> dict[str, int]:
    """Audit events by change (those a transfer of ``night`` brought, if given), without those of
    stage-2 records (aclf.blinding): counted in SQL, then the few events of the forms that have
    stage-2 rows read to take those out."""
    def scoped(query):
        return query.join(transfer, audit_event.c.new_transfer_id == transfer.c.id) \
            .where(transfer.c.snapshot_date == night) if night else query
    forms = [name for name, spec in study.forms.items() if spec.stage2_rows]
    counts = dict(conn.execute(scoped(sa.select(audit_event.c.change, sa.func.count()).select_from(audit_event))
                               .group_by(audit_event.c.change)).all())
    events = pd.read_sql(scoped(sa.select(audit_event.c.entity, audit_event.c.record_key, audit_event.c.change)
                                .select_from(audit_event)).where(audit_event.c.entity.in_(forms)), conn)
    hidden = events[stage2_of_entities(study, events["entity"], events["record_key"], "key")]
    for change, n in hidden["change"].value_counts().items():
        counts[change] -= n
    return {k: int(v) for k, v in sorted(counts.items()) if v}


def _tonight(conn: sa.Connection, study: Study, night: str | None) -> dict:
    """What the data night changed: findings opened and closed, records added, changed or vanished."""
    blinded = finding.c.level == "blinded"
    count = lambda where: conn.execute(sa.select(sa.func.count()).select_from(finding)  # noqa: E731
                                       .where(blinded & where)).scalar_one()
    return {"night": night,
            "new_findings": count((finding.c.first_seen == night) & (finding.c.status == "open")),
            "closed_findings": count(finding.c.closed_at == night),
            "changed_records": _audit_counts(conn, study, night) if night else {}}


def _status(report: dict) -> dict:
    """``complete``, or ``attention`` with what needs it: an unbalanced snapshot, a package not refreshed."""
    reasons = [f"transfer {t['file']} does not balance" for t in report["transfers"]
               if t["status"] == "loaded" and t["balanced"] is False]
    reasons += [f"package {folder} not refreshed: {p['reason']}" for folder, p in report["packages"].items()
                if not p["refreshed"]]
    return {"overall": "attention" if reasons else "complete", "reasons": reasons}


def build_report(engine: sa.Engine, study: Study, generated_at: str, output: Path | None = None,
                 run: dict | None = None) -> dict:
    """The run (``run``: id, code version, configuration hash, stage durations, from the caller), its
    overall status and what the data night changed; transfers, reconciliation totals over the
    snapshots in force, store totals, findings and the data-quality suite's result (linked to its
    Data Docs, relative to the output folder). A blinded report: the counts leave out the stage-2
    rows, the findings those a blinded reader may not see."""
    night = data_night(engine)
    with engine.connect() as conn:
        findings = _findings(conn)
        tonight = _tonight(conn, study, night)
        rows = conn.execute(sa.select(transfer).order_by(
            transfer.c.source, transfer.c.snapshot_date, transfer.c.seq, transfer.c.id)).all()
        vanished = conn.execute(sa.select(sa.func.count()).select_from(lab_result)
                                .where(lab_result.c.vanished_transfer_id.is_not(None))).scalar_one()
        lab_total = conn.execute(sa.select(sa.func.count()).select_from(lab_result)).scalar_one()
        forms_total = conn.execute(sa.select(sa.func.count()).select_from(form_record)
                                   .where(form_record.c.vanished_transfer_id.is_(None))).scalar_one()
        audit = _audit_counts(conn, study)
    transfers = []
    for r in rows:
        seen = outcome_of(r).blinded()
        transfers.append({"source": seen.source, "file": seen.file, "sha256": seen.sha256, "status": seen.status,
                          **{k: getattr(seen, k) for k in COUNTS}, "balanced": seen.balanced,
                          "snapshot_date": seen.snapshot_date, "received_at": r.received_at, "reason": seen.reason,
                          "notes": seen.notes})
    in_force = [t for t in transfers if t["status"] == "loaded"]
    totals = {k: sum(t[k] or 0 for t in in_force) for k in COUNTS}
    totals["balanced"] = all(t["balanced"] for t in in_force)
    by_status: dict[str, int] = {}
    for t in transfers:
        by_status[t["status"]] = by_status.get(t["status"], 0) + 1
    report = {
        "run": run or {},
        "tonight": tonight,
        "transfers": transfers,
        "totals": {**totals, "transfers_by_status": by_status},
        "store": {"lab_records_in_force": int(lab_total - vanished), "lab_records_vanished": int(vanished),
                  "form_records_in_force": int(forms_total) - sum(r.stage2_loaded or 0 for r in rows
                                                                   if r.status == "loaded"),
                  "audit_events": audit},
        "findings": findings,
        "quality": _quality(output),
        "packages": _packages(output),
        "figures": sorted(str(p.relative_to(output)) for p in output.glob("*/figures/*.png")) if output else [],
    }
    return {"generated_at": generated_at, "status": _status(report), **report}


def reconciliation(engine: sa.Engine) -> pd.DataFrame:
    """Every transfer's full counts, stage-2 rows included and shown apart: for the unblinded area."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(transfer).order_by(transfer.c.source, transfer.c.id)).all()
    columns = ["source", "file", "status", *COUNTS, "stage2_loaded", "stage2_quarantined", "balanced"]
    return pd.DataFrame([{k: getattr(o, k) for k in columns}
                         for o in map(outcome_of, rows)], columns=columns).astype({k: "Int64" for k in COUNTS})


def write_report(report: dict, output_dir: Path) -> Path:
    """``run_report.json`` and, beside it, the same as a self-contained ``run_report.html``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / REPORT_NAME
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (output_dir / HTML_NAME).write_text(render_report_html(report), encoding="utf-8")
    return path


def format_summary(report: dict) -> str:
    """A reconciliation table for the terminal: one line per snapshot in force, then the rest."""
    lines = [f"{'source':<8} {'transfer':<26} {'status':<10} {'read':>9} {'loaded':>9} {'quarant.':>9}  balanced"]
    for t in report["transfers"]:
        if t["status"] == "superseded":
            continue
        def num(v):
            return "-" if v is None else f"{v:,}"
        ok = {True: "yes", False: "NO", None: "-"}[t["balanced"]]
        line = (f"{t['source']:<8} {t['file']:<26} {t['status']:<10} {num(t['rows_read']):>9} "
                f"{num(t['rows_loaded']):>9} {num(t['rows_quarantined']):>9}  {ok}")
        if t["reason"] and t["status"] != "loaded":
            line += f"\n{'':<8} reason: {t['reason']}"
        lines.append(line)
    tot = report["totals"]
    lines.append(f"{'total':<8} {'(snapshots in force)':<26} {'':<10} {tot['rows_read']:>9,} "
                 f"{tot['rows_loaded']:>9,} {tot['rows_quarantined']:>9,}  {'yes' if tot['balanced'] else 'NO'}")
    status = ", ".join(f"{n} {s}" for s, n in sorted(tot["transfers_by_status"].items()))
    store = report["store"]
    audit = ", ".join(f"{n} {c}" for c, n in store["audit_events"].items()) or "none"
    lines.append(f"transfers: {status}")
    lines += _findings_lines(report["findings"])
    quality = report.get("quality")
    if quality:
        lines.append(f"data quality: {quality['evaluated']} expectations, {quality['failed']} failed; "
                     f"Data Docs: {quality['data_docs']}")
    for folder, package in report.get("packages", {}).items():
        lines.append(_package_line(folder, package))
    for figure in report.get("figures", []):
        lines.append(f"figure: {figure}")
    lines += _night_lines(report)
    lines.append(f"store: {store['lab_records_in_force']:,} lab records in force "
                 f"({store['lab_records_vanished']:,} vanished), {store['form_records_in_force']:,} form records; "
                 f"audit events: {audit}")
    return "\n".join(lines)


def _night_lines(report: dict) -> list[str]:
    """The overall status and what the data night changed (reports of older versions have neither)."""
    if "status" not in report:
        return []
    tonight, status = report["tonight"], report["status"]
    changes = ", ".join(f"{n} {c}" for c, n in tonight["changed_records"].items()) or "none"
    lines = [f"night {tonight['night']}: {tonight['new_findings']} new findings, {tonight['closed_findings']} "
             f"closed; records changed: {changes}", f"status: {status['overall'].upper()}"]
    return lines + [f"  - {reason}" for reason in status["reasons"]]


def _findings_lines(findings: dict) -> list[str]:
    """Open findings as a site x rule table (rules as rows: there are more rules than sites)."""
    by_site = findings["open_by_site_and_rule"]
    severity = ", ".join(f"{n} {s}" for s, n in findings["open_by_severity"].items()) or "none"
    lines = [f"findings: {findings['open']} open ({severity}), {findings['closed']} closed; "
             f"listing: {findings['listing']}"]
    if not by_site:
        return lines
    sites = sorted(by_site)
    rules = sorted({r for counts in by_site.values() for r in counts})
    lines.append(f"  {'rule':<26}" + "".join(f"{'site ' + s if s != '-' else 'study':>9}" for s in sites))
    for rule in rules:
        lines.append(f"  {rule:<26}" + "".join(f"{by_site[s].get(rule, 0) or '.':>9}" for s in sites))
    return lines


def _package_line(folder: str, package: dict) -> str:
    """One package: refreshed tonight, or NOT REFRESHED with the reason and the package in force."""
    held = f"{len(package['datasets'])} datasets and define.xml"
    if package["refreshed"] and package["unchanged"]:
        return f"package: {folder}/ ({held}; kept: no transfer, configuration or code changed since {package['written_at']})"
    if package["refreshed"]:
        return f"package: {folder}/ ({held})"
    in_force = f"in force: {held} of {package['written_at']}" if package["written_at"] else "no package in force"
    return f"package NOT REFRESHED: {folder}/ ({in_force}); {package['reason']}"
