"""Issue #10 item 7: a database URL that cannot be used is a usage error in one line (exit 2 from
the CLI), never a traceback half-way through a run."""
import pytest

from aclf.config import ConfigError
from aclf.settings import Settings
from aclf.store import StoreUnreachable, check_reachable


@pytest.mark.parametrize("url, said", [
    ("notaurl", "the database URL (--database-url or ACLF_DATABASE_URL) cannot be parsed"),
    ("foo://x/y", "the database URL names 'foo', which is not supported here"),
    ("mysql://db/aclf", "the database URL names 'mysql', which is not supported here"),
])
def test_an_unusable_url_is_a_one_line_config_error(tmp_path, url, said):
    with pytest.raises(ConfigError) as err:
        Settings.resolve(landing=tmp_path, database_url=url)
    assert str(err.value).startswith(said) and "\n" not in str(err.value)


def test_an_unreachable_store_is_a_one_line_config_error_without_its_password():
    with pytest.raises(StoreUnreachable) as err:
        check_reachable("postgresql://aclf:s3cret@127.0.0.1:1/aclf")
    said = str(err.value)
    assert isinstance(err.value, ConfigError) and "\n" not in said and "s3cret" not in said
    assert said.startswith("the store postgresql://aclf:***@127.0.0.1:1/aclf cannot be reached: ")


def test_a_reachable_store_passes(database_url):
    check_reachable(database_url)


def test_the_cli_exits_2_with_one_line(tmp_path, capsys):
    from pipelines.cli import main

    code = main(["run", "--landing", str(tmp_path), "--output", str(tmp_path / "out"), "--database-url", "notaurl"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err

