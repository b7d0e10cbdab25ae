"""The production deployment in deploy/: its Dagster instance (PostgreSQL storage, the Kubernetes run
launcher) loads with the definitions and records a real run in PostgreSQL; the Helm values and the
image agree with the code (no cluster needed)."""
import os
import shutil
import uuid
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from aclf.settings import ENV
from pipelines.definitions import build_definitions
from support import FIXTURES, asset_named, land

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PG_BASE = os.environ.get("ACLF_TEST_DATABASE_URL", "")


@pytest.fixture
def pg_schema_url():
    """A schema of the test server for Dagster's own tables, as a psycopg2 URL (dagster-postgres)."""
    if not PG_BASE.startswith("postgresql"):
        pytest.skip("the Dagster instance on PostgreSQL is tested in the PostgreSQL pass (ACLF_TEST_DATABASE_URL)")
    schema = f"dagster_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_BASE)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    base = PG_BASE.split("?")[0].replace("postgresql://", "postgresql+psycopg2://", 1)
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def production_instance(tmp_path, monkeypatch, pg_schema_url):
    """deploy/dagster.yaml as a pod would load it; in-cluster credentials are the one thing faked."""
    import kubernetes

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    for name, value in {"DAGSTER_PG_URL": pg_schema_url, "DAGSTER_K8S_NAMESPACE": "aclf",
                        "DAGSTER_K8S_SERVICE_ACCOUNT": "aclf-dagster", "DAGSTER_HOME": str(home),
                        "DAGSTER_K8S_INSTANCE_CONFIG_MAP": "aclf-dagster-instance"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(kubernetes.config, "load_incluster_config", lambda *a, **k: None)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def test_the_production_instance_records_a_run_in_postgresql(production_instance, paths, tmp_path, database_url):
    from dagster_k8s import K8sRunLauncher
    from dagster_postgres import PostgresRunStorage

    from aclf.settings import Settings
    from assets.resources import AclfResource

    instance = production_instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    launcher = instance.run_launcher
    assert isinstance(launcher, K8sRunLauncher)
    assert (launcher.job_namespace, launcher.instance_config_map) == ("aclf", "aclf-dagster-instance")
    settings = Settings.resolve(landing=paths.landing, output=tmp_path / "output", archive=paths.archive,
                                database_url=database_url)
    dg.Definitions.validate_loadable(build_definitions(settings))
    land(paths, "site01", "SITE01_20250601.csv", (FIXTURES / "SITE01_20250601.csv").read_bytes())
    result = dg.materialize([asset_named("staged_source")], partition_key="site01", instance=instance,
                            resources={"aclf": AclfResource.from_settings(settings)})
    assert result.success
    [run] = instance.get_runs()
    assert run.run_id == result.run_id and run.tags["dagster/partition"] == "site01"
    event = instance.get_latest_materialization_event(dg.AssetKey("staged_source"))
    assert event.asset_materialization.partition == "site01"


def test_the_helm_values_and_the_image_match_the_code():
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text(encoding="utf-8"))
    [location] = values["dagster-user-deployments"]["deployments"]
    workspace = yaml.safe_load((DEPLOY.parent / "workspace.yaml").read_text(encoding="utf-8"))
    assert location["dagsterApiGrpcArgs"] == ["--module-name", workspace["load_from"][0]["python_module"]]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    settings = yaml.safe_load((DEPLOY / "helm" / "aclf-settings.yaml").read_text(encoding="utf-8"))["data"]
    # every path comes from the ConfigMap; the store URL (a password) from the Secret
    assert {ENV[k] for k in ("landing", "output", "archive", "study_dir")} <= set(settings)
    assert ENV["database_url"] not in settings
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    pyproject = (DEPLOY.parent / "pyproject.toml").read_text(encoding="utf-8")
    packages = yaml.safe_load(pyproject.split("include = ")[1].splitlines()[0])
    for package in [p.rstrip("*") for p in packages] + ["study"]:
        assert f"COPY {package} {package}" in dockerfile
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text(encoding="utf-8"))
    assert "/" not in str(instance["storage"]) and instance["run_launcher"]["class"] == "K8sRunLauncher"
