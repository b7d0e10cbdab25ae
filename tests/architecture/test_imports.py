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


def test_the_nightly_run_leaves_them_to_its_warm_worker(tmp_path):
    """A whole night from the CLI draws the Data Docs and the figures without importing those
    libraries itself: the suites and the figures ran in the warm worker (aclf.warm_worker)."""
    code = ("import sys\n"
            "from aclf.synth import generate\n"
            "from pipelines.cli import main\n"
            f"root = {str(tmp_path)!r}\n"
            "generate(root + '/landing', subjects=30, seed=5, nights=1, in_flight=())\n"
            "status = main(['run', '--quiet', '--landing', root + '/landing', '--output', root + '/output',\n"
            "               '--archive', root + '/archive', '--database-url', 'sqlite:///' + root + '/s.sqlite'])\n"
            f"print(status, sorted(m for m in {HEAVY!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout + done.stderr
    assert "leaked" not in done.stderr          # the worker, stopped, released what its libraries took
    assert (tmp_path / "output" / "quality" / "index.html").is_file()
    assert len(list((tmp_path / "output" / "blinded" / "figures").glob("*.png"))) == 3
