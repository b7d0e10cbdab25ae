"""Loading the job's definitions, which the code server and every step's process do, does not import
the libraries only some steps use: Great Expectations (the quality suite), matplotlib and
statsmodels (the figures and the unblinded reports)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("great_expectations", "matplotlib", "statsmodels")


def test_loading_the_definitions_leaves_the_heavy_libraries_out():
    code = ("import sys, pipelines.definitions, pipelines.nightly, pipelines.cli; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
