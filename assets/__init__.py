"""Dagster assets: the thin orchestration shell over the pure core in ``aclf``."""
