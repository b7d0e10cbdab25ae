"""SDTM domains as DataFrames, built from the harmonized data and the forms in force (no Dagster)."""
