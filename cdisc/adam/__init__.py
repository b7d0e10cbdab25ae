"""ADaM derivations as small, generic pandas functions (admiral-style; no study fact, no Dagster)."""
