"""ADaM: one module per analysis dataset, built from the SDTM of the same area (``build.py``)."""
