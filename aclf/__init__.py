"""Pure core of the NCT05985863 pipeline: configuration, readers, store and generator (no Dagster)."""
