"""Synthetic study generator: DTS-conformant nightly snapshots for all sources."""
from .generate import GenerationSummary, generate

__all__ = ["GenerationSummary", "generate"]
