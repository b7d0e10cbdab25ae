"""A store made by an earlier version is brought up to the current schema (additive columns)."""
import sqlalchemy as sa

from aclf.store import make_engine



def test_a_store_of_an_earlier_version_gets_the_new_columns(database_url):
    url = database_url
    engine = make_engine(url)
    with engine.begin() as conn:   # as an earlier version made it: no blinding level, no stage-2 counts
        for table, column in [("finding", "level"), ("transfer", "stage2_loaded"), ("transfer", "stage2_quarantined")]:
            conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(sa.text("INSERT INTO finding (finding_id, rule, family, severity, message, first_seen, last_seen,"
                             " status) VALUES ('f1', 'r', 'fam', 'low', 'm', 'x', 'x', 'open')"))
    engine.dispose()
    engine = make_engine(url)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("transfer")}
    assert {"stage2_loaded", "stage2_quarantined"} <= columns
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT level FROM finding")).scalar_one() == "blinded"
