"""What the night's expectation suites found: its own module, so that a night that keeps the suites
reports their last result without importing Great Expectations (3-4 s)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class QualityResult:
    success: bool  # every expectation of every suite passed
    evaluated: int  # expectations evaluated
    failed: list[dict]  # per failed expectation: suite, expectation, column, detail
    data_docs: Path  # index.html of the rendered Data Docs
