"""The Data Docs' front page, readable offline. Great Expectations draws its index with scripts and
styles from CDNs, so without a network it shows two buttons and nothing else. This page is
self-contained: one line per suite with its counts, and links to that suite's own validation and
expectation pages (those are static HTML and readable without their remote styles). It also lists
every failed expectation in words. GX's own index is kept as ``gx_index.html``."""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment

GX_INDEX = "gx_index.html"

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Data quality: expectation suites</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222} table{border-collapse:collapse;font-size:.9em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left} th{background:#f2f2f2} td.n{text-align:right}
.pass{color:#17631a} .fail{color:#a3160e}
</style></head><body>
<h1>Data quality: expectation suites</h1>
<p>{{ evaluated }} expectations evaluated, {{ failed | length }} failed.</p>
<h2>Validation results</h2>
<table><tr><th>Suite</th><th>Expectations</th><th>Failed</th><th>Result</th><th>Validation result</th><th>Suite</th></tr>
{% for s in suites %}<tr><td>{{ s.name }}</td><td class="n">{{ s.evaluated }}</td><td class="n">{{ s.failed }}</td>
<td class="{{ 'pass' if s.success else 'fail' }}">{{ 'passed' if s.success else 'failed' }}</td>
<td>{% if s.validation %}<a href="{{ s.validation }}">validation result</a>{% endif %}</td>
<td>{% if s.expectations %}<a href="{{ s.expectations }}">expectations</a>{% endif %}</td></tr>{% endfor %}
</table>
{% if failed %}<h2>Failed expectations</h2>
<table><tr><th>Suite</th><th>Expectation</th><th>Column</th><th>Detail</th></tr>
{% for f in failed %}<tr><td>{{ f.suite }}</td><td>{{ f.expectation }}</td><td>{{ f.column or '' }}</td><td>{{ f.detail }}</td></tr>{% endfor %}
</table>{% endif %}
<p><a href="{{ gx_index }}">Great Expectations' own index</a> (needs a network for its scripts).</p>
</body></html>
"""


def write_index(folder: Path, results: dict, failed: list[dict]) -> Path:
    """Replace GX's index in ``folder`` by the offline one; ``results``: suite name -> validation result."""
    index = folder / "index.html"
    if index.exists():
        index.replace(folder / GX_INDEX)
    suites = []
    for name, result in results.items():
        pages = sorted((folder / "validations" / name).rglob("*.html"))
        expectations = folder / "expectations" / f"{name}.html"
        suites.append({"name": name, "evaluated": len(result.results), "success": result.success,
                       "failed": sum(not r.success for r in result.results),
                       "validation": pages[-1].relative_to(folder).as_posix() if pages else None,
                       "expectations": expectations.relative_to(folder).as_posix() if expectations.exists() else None})
    html = Environment(autoescape=True).from_string(_TEMPLATE).render(
        suites=suites, failed=failed, evaluated=sum(s["evaluated"] for s in suites), gx_index=GX_INDEX)
    index.write_text(html, encoding="utf-8")
    return index
