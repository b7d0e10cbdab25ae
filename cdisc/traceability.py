"""Traceability of the analysis data: every ADaM variable leads back to SDTM through the variables
its define.xml origin, method or comment names (ADaMIG 1.3 section 1.2, fundamental principle of
traceability; the reviewer's "no path back to SDTM")."""
from __future__ import annotations

import re

from cdisc.spec import Spec, Variable

VARIABLE_REF = re.compile(r"\b([A-Z][A-Z0-9]{1,7})\.([A-Z][A-Z0-9]{0,7})\b")


def cited(spec: Spec, var: Variable) -> list[tuple[str, str]]:
    """(dataset, variable) pairs named by the variable's source, method and comment text."""
    texts = [var.source or "", spec.methods[var.method].description if var.method else "",
             spec.comments[var.comment].text if var.comment else ""]
    return [ref for text in texts for ref in VARIABLE_REF.findall(text)]


def untraceable(adam: Spec, sdtm: Spec) -> list[str]:
    """ADaM variables with no path to an SDTM variable, and names that resolve to no variable.
    An Assigned variable ends a path when a codelist or comment documents its values."""
    known_sdtm = {(d, v.name) for d, ds in sdtm.datasets.items() for v in ds.variables}
    variables = {(d, v.name): v for d, ds in adam.datasets.items() for v in ds.variables}
    problems, edges = [], {}
    for (dataset, name), var in variables.items():
        refs = cited(adam, var)
        unknown = sorted({f"{d}.{v}" for d, v in refs if (d, v) not in known_sdtm and (d, v) not in variables
                          and d in adam.datasets.keys() | sdtm.datasets.keys()})
        if unknown:
            problems.append(f"{dataset}.{name}: names {', '.join(unknown)}, which no spec defines")
        edges[(dataset, name)] = [r for r in refs if r in known_sdtm or r in variables]
    reaches: dict[tuple[str, str], bool] = {}

    def reach(node, seen=frozenset()) -> bool:
        if node in known_sdtm:
            return True
        if node in reaches:
            return reaches[node]
        var = variables[node]
        if var.origin == "Assigned" and (var.codelist or var.comment):
            return True
        found = any(reach(ref, seen | {node}) for ref in edges[node] if ref not in seen)
        if not seen:
            reaches[node] = found
        return found

    problems += [f"{d}.{n}: no path back to SDTM" for d, n in variables if not reach((d, n))]
    return problems
