"""Jobs: per-source ingestion (partitioned) and the study-wide layers that follow it."""
from __future__ import annotations

import dagster as dg


ingestion_job = dg.define_asset_job(
    "ingest_source", selection=dg.AssetSelection.groups("ingestion"),
    description="Ingest one source (a partition): newest complete transfer into the staging store.")

study_job = dg.define_asset_job(
    "study_layers", selection=dg.AssetSelection.groups("ingestion").downstream() - dg.AssetSelection.groups("ingestion"),
    description="Everything downstream of ingestion, on the whole store.")
