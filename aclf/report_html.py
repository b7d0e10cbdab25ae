"""The run report as one self-contained HTML page beside ``run_report.json`` (no script, no remote
asset): what a data manager reads first in the morning. Jinja2 escapes every value."""
from __future__ import annotations

from jinja2 import Environment

HTML_NAME = "run_report.html"

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Run report {{ r.tonight.night or '' }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222} h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.9em} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f2f2f2} td.n{text-align:right} .complete{color:#17631a} .attention{color:#a3160e}
</style></head><body>
<h1>Nightly run report: data night {{ r.tonight.night or 'none' }}</h1>
<p>Status: <strong class="{{ r.status.overall }}">{{ r.status.overall }}</strong>
{% for reason in r.status.reasons %}<br>&bull; {{ reason }}{% endfor %}</p>
<table>
<tr><th>Generated</th><td>{{ r.generated_at }}</td></tr>
{% for key, label in [('run_id', 'Run'), ('code_version', 'Code version'), ('config_hash', 'Configuration (SHA-256)')] %}
{% if r.run.get(key) %}<tr><th>{{ label }}</th><td>{{ r.run[key] }}</td></tr>{% endif %}{% endfor %}
</table>
<h2>Tonight</h2>
<p>{{ r.tonight.new_findings }} new findings, {{ r.tonight.closed_findings }} closed;
records {% for change, n in r.tonight.changed_records.items() %}{{ n }} {{ change }}{{ ', ' if not loop.last }}{% else %}unchanged{% endfor %}.</p>
<h2>Transfers</h2>
<table><tr><th>Source</th><th>Transfer</th><th>Status</th><th>Read</th><th>Loaded</th><th>Quarantined</th><th>Balanced</th><th>Reason</th></tr>
{% for t in r.transfers if t.status != 'superseded' %}<tr><td>{{ t.source }}</td><td>{{ t.file }}</td><td>{{ t.status }}</td>
<td class="n">{{ t.rows_read if t.rows_read is not none }}</td><td class="n">{{ t.rows_loaded if t.rows_loaded is not none }}</td>
<td class="n">{{ t.rows_quarantined if t.rows_quarantined is not none }}</td>
<td>{{ {True: 'yes', False: 'NO', None: ''}[t.balanced] }}</td><td>{{ t.reason }}</td></tr>{% endfor %}
</table>
<h2>Findings</h2>
<p>{{ r.findings.open }} open, {{ r.findings.closed }} closed: <a href="{{ r.findings.listing }}">{{ r.findings.listing }}</a></p>
{% if r.quality %}<h2>Data quality</h2><p>{{ r.quality.evaluated }} expectations, {{ r.quality.failed }} failed:
<a href="{{ r.quality.data_docs }}">Data Docs</a></p>{% endif %}
<h2>Packages</h2>
<table><tr><th>Package</th><th>Refreshed tonight</th><th>Datasets</th><th>Reason</th></tr>
{% for folder, p in r.packages.items() %}<tr><td>{{ folder }}</td><td>{{ ('kept: inputs unchanged since ' ~ p.written_at) if p.unchanged else ('yes' if p.refreshed else 'NO') }}</td>
<td class="n">{{ p.datasets | length }}</td><td>{{ p.reason or '' }}</td></tr>{% endfor %}
</table>
{% if r.run.get('stages') %}<h2>Stage durations</h2>
<table><tr><th>Stage</th><th>Run</th><th>Seconds</th></tr>
{% for s in r.run.stages %}<tr><td>{{ s.stage }}</td><td>{{ s.run_id[:8] }}</td><td class="n">{{ '%.1f' % s.seconds }}</td></tr>{% endfor %}
</table>{% endif %}
</body></html>
"""


def render_report_html(report: dict) -> str:
    return Environment(autoescape=True).from_string(_TEMPLATE).render(r=report)
