"""The deployment runs a night by itself: the real Dagster daemon, a temporary DAGSTER_HOME, a night's
transfers dropped into the landing zone; the transfer sensor launches ingestion, the automation
sensor every layer after it, until the night's run report exists. Then a person's view of it: the
Dagster UI and the Data Docs in a real browser (Debian's chromium driven by Playwright)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines.cli import deliver_night
from pipelines.definitions import defs
from support import store_url

REPO = Path(__file__).resolve().parents[2]
BOUND_SECONDS = 600
CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.slow


def _start(tool: str, args: list[str], env: dict, log: Path) -> subprocess.Popen:
    executable = Path(sys.executable).with_name(tool)
    return subprocess.Popen([str(executable), *args, "-w", str(REPO / "workspace.yaml")], cwd=REPO, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=60)


def _report_of(path: Path, night: str) -> dict | None:
    """The run report once it covers every source of the night and the packages built on it."""
    if not path.exists():
        return None
    report = json.loads(path.read_text(encoding="utf-8"))
    loaded = {t["source"] for t in report["transfers"] if t["status"] == "loaded" and night in t["file"]}
    adam = [folder for folder in report.get("packages", {}) if folder.endswith("adam/datasets")]
    return report if len(loaded) == 7 and adam else None


def _settled(home: Path) -> bool:
    """The run report is recorded as materialized and no run is still going: its file is written inside
    the step, before Dagster stores the event, so the file alone does not say the night has finished."""
    going = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return instance.get_latest_materialization_event(dg.AssetKey("run_report")) is not None \
            and not instance.get_runs(filters=dg.RunsFilter(statuses=going), limit=1)


@pytest.fixture(scope="module")
def daemon_night(tmp_path_factory):
    """A 30-subject night dropped into the landing zone of a running daemon; yields (root, env, report)."""
    from aclf.synth import generate

    root = tmp_path_factory.mktemp("daemon")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    summary = generate(root / "incoming", subjects=30, seed=3, nights=1, in_flight=())
    night = summary.nights[0].replace("-", "")
    with store_url(root) as url:
        env = {**os.environ, "DAGSTER_HOME": str(home), "ACLF_LANDING_DIR": str(root / "landing"),
               "ACLF_OUTPUT_DIR": str(root / "output"), "ACLF_ARCHIVE_DIR": str(root / "archive"),
               "ACLF_DATABASE_URL": url, "ACLF_SENSOR_INTERVAL_SECONDS": "5",
               "ACLF_AUTOMATION_INTERVAL_SECONDS": "5",
               "ACLF_NIGHTLY_CRON": "0 0 29 2 *"}   # the 02:00 schedule must not add its runs mid-test
        (root / "landing").mkdir()
        daemon = _start("dagster-daemon", ["run"], env, home / "daemon.log")
        try:
            deliver_night(root / "incoming", root / "landing", night)
            deadline, report = time.monotonic() + BOUND_SECONDS, None
            while report is None and time.monotonic() < deadline and daemon.poll() is None:
                time.sleep(3)
                report = _report_of(root / "output" / "run_report.json", night)
                report = report if report is not None and _settled(home) else None
        finally:
            _stop(daemon)
        log = (home / "daemon.log").read_text(encoding="utf-8", errors="replace")
        assert report is not None, f"no run report of the night within {BOUND_SECONDS} s; daemon log:\n{log[-3000:]}"
        yield root, env, report


def test_the_daemon_runs_a_dropped_night_through_every_layer(daemon_night, monkeypatch):
    root, env, _ = daemon_night
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        ingestion = [r for r in runs if r.tags.get("dagster/sensor_name") == "new_transfer_sensor"]
        automated = [r for r in runs if r.tags.get("dagster/sensor_name") == "study_layers_automation"]
        materialized = {k.to_user_string() for k in instance.all_asset_keys()
                        if instance.get_latest_materialization_event(k)}
    assert sorted(r.tags["dagster/partition"] for r in ingestion) == \
        ["edc", "iwrs", "site01", "site02", "site03", "site04", "site05"]
    assert automated, "the layers after ingestion were not launched by the automation sensor"
    assert materialized == {key.to_user_string() for key in defs().resolve_all_asset_keys()}
    assert not (root / "output" / "alerts").exists()          # no run failed, so no alert


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium (installed from the Debian packages when missing and possible) under Playwright."""
    if not CHROMIUM.exists() and shutil.which("apt-get") and os.geteuid() == 0:
        try:
            subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], capture_output=True, timeout=900,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        except subprocess.TimeoutExpired:
            pass
    if not CHROMIUM.exists():
        pytest.skip("NOTICE: Debian's chromium is not installed and cannot be installed here; browser test skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _body_once_statuses_drawn(page, expected: int, timeout: float = 90) -> str:
    """The page's text once the asset list has drawn its statuses, which it fetches after the rows."""
    deadline = time.monotonic() + timeout
    while True:
        text = page.locator("body").inner_text()
        if text.count("Materialized") >= expected or time.monotonic() > deadline:
            return text
        time.sleep(1)


def test_the_dagster_ui_shows_every_layer_materialized(daemon_night, browser):
    root, env, _ = daemon_night
    port = _free_port()
    web = _start("dagster-webserver", ["-h", "127.0.0.1", "-p", str(port)], env, root / "webserver.log")
    try:
        page = browser.new_page(viewport={"width": 1600, "height": 8000})   # every row of the list drawn
        deadline = time.monotonic() + 120
        while True:
            try:
                page.goto(f"http://127.0.0.1:{port}/assets?view=flat", wait_until="networkidle", timeout=30_000)
                break
            except Exception:
                if web.poll() is not None:
                    pytest.fail(f"the webserver stopped: {(root / 'webserver.log').read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)
        shown = sorted(key.to_user_string().replace("/", " / ") for key in defs().resolve_all_asset_keys())
        page.get_by_text(shown[0], exact=True).first.wait_for(timeout=60_000)
        text = _body_once_statuses_drawn(page, len(shown) - 1)
        for name in shown:
            assert name in text, name
        assert text.count("Materialized") >= len(shown) - 1 and "Never materialized" not in text
    finally:
        _stop(web)


def test_the_data_docs_read_offline_with_their_validation_results(daemon_night, browser):
    root, _, report = daemon_night
    page = browser.new_page()
    page.route("http*://**", lambda route: route.abort())          # offline: nothing from a network
    page.goto((root / "output" / report["quality"]["data_docs"]).as_uri())
    links = page.get_by_role("link", name="validation result")
    assert links.count() >= 2 and "expectations evaluated" in page.locator("body").inner_text()
    links.first.click()
    page.wait_for_load_state()
    assert "validations/" in page.url and page.locator("body").inner_text().strip()


def test_define_xml_renders_in_the_browser_through_its_stylesheet(daemon_night, browser):
    """Served over HTTP: browsers refuse an XSLT from file:// (each file is an origin of its own)."""
    import functools
    import http.server
    import threading

    root, _, report = daemon_night
    [sdtm] = [folder for folder in report["packages"] if folder.endswith("tabulations/sdtm")]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root / "output" / sdtm))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{server.server_port}/define.xml", wait_until="load")
        assert "NCT05985863" in page.locator("h1").inner_text()
        datasets = page.locator("#datasets + table tr td:first-child a")
        assert "DM" in datasets.all_inner_texts() and datasets.count() == len(report["packages"][sdtm]["datasets"])
        assert page.locator("#IG\\.LB").count() == 1 and page.locator("#codelists").count() == 1
    finally:
        server.shutdown()
