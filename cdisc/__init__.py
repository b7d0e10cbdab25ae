"""CDISC SDTM and ADaM outputs (XPT v5, define.xml): built on the harmonized layer."""
