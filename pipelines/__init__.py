"""Dagster orchestration: definitions, jobs, schedule, sensor and the in-process nightly run."""
