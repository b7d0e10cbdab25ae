"""Validation of staged and harmonized data (pandera, great-expectations): the next layer."""
