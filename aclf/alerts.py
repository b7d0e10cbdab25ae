"""Alerts about a failed run: one JSON line in an alert file, a log line, and, when configured, a
webhook POST and an e-mail. An alert names the run and the failing steps, never data values.

Targets come from the environment (a deployment's configuration): ACLF_ALERT_FILE (default
``<output>/alerts/run_failures.jsonl``), ACLF_ALERT_WEBHOOK_URL, ACLF_ALERT_SMTP_HOST
(``host[:port]``) with ACLF_ALERT_EMAIL_TO and ACLF_ALERT_EMAIL_FROM.
"""
from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.request
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from pathlib import Path

log = logging.getLogger("aclf.alerts")
TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Alert:
    """What went wrong, said without data: the run, the job, the steps and the error's first line."""

    run_id: str
    job: str
    failed_steps: list[str]
    error: str
    at: str

    def line(self) -> str:
        steps = ", ".join(self.failed_steps) or "the run"
        return f"ALERT run {self.run_id} of {self.job} failed at {self.at}: {steps}: {self.error}"


@dataclass(frozen=True)
class AlertTargets:
    file: Path
    webhook_url: str = ""
    smtp_host: str = ""
    email_to: str = ""
    email_from: str = "aclf-pipeline@localhost"

    @classmethod
    def from_env(cls, output: Path) -> "AlertTargets":
        env = os.environ.get
        return cls(file=Path(env("ACLF_ALERT_FILE") or output / "alerts" / "run_failures.jsonl"),
                   webhook_url=env("ACLF_ALERT_WEBHOOK_URL", ""), smtp_host=env("ACLF_ALERT_SMTP_HOST", ""),
                   email_to=env("ACLF_ALERT_EMAIL_TO", ""),
                   email_from=env("ACLF_ALERT_EMAIL_FROM") or cls.email_from)


def send_alert(alert: Alert, targets: AlertTargets) -> list[str]:
    """Deliver to every configured target; returns the targets reached. The file and the log line
    always; a target that cannot be reached is logged, never raised (an alert must not fail a sensor)."""
    log.error(alert.line())
    targets.file.parent.mkdir(parents=True, exist_ok=True)
    with targets.file.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(asdict(alert), ensure_ascii=False) + "\n")
    reached = ["file"]
    if targets.webhook_url:
        try:
            request = urllib.request.Request(targets.webhook_url, data=json.dumps(asdict(alert)).encode(),
                                             headers={"Content-Type": "application/json"}, method="POST")
            urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS).close()
            reached.append("webhook")
        except OSError as exc:
            log.error(f"alert webhook not reached: {exc}")
    if targets.smtp_host and targets.email_to:
        try:
            _email(alert, targets)
            reached.append("email")
        except (OSError, smtplib.SMTPException) as exc:
            log.error(f"alert e-mail not sent: {exc}")
    return reached


def _email(alert: Alert, targets: AlertTargets) -> None:
    host, _, port = targets.smtp_host.partition(":")
    message = EmailMessage()
    message["Subject"] = f"[aclf] run {alert.run_id[:8]} of {alert.job} failed"
    message["From"], message["To"] = targets.email_from, targets.email_to
    message.set_content(alert.line())
    with smtplib.SMTP(host, int(port or 25), timeout=TIMEOUT_SECONDS) as smtp:
        smtp.send_message(message)
