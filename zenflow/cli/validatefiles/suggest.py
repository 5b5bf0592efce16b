"""Did-you-mean across nesting levels for an unknown field: ``spec.failFast`` was meant as
``spec.executionPolicy.failFast``, ``spec.steps[0].retryPolicy.timeoutSeconds`` as
``spec.steps[0].timeoutSeconds``.

The validator already suggests a close name at the same level; this looks further: the fields
reachable from the unknown field's object and from each object above it (through object-valued
fields, ``SEARCH_DEPTH`` deep; lists and maps are not entered, their items would need a key).
An exact name beats a close one (difflib ratio ≥ ``CUTOFF``); then the nearest (fewest levels
up, then fewest down) wins; ties keep the models' field order.
"""

from __future__ import annotations

import difflib
from typing import Final

from pydantic import BaseModel

from zenflow.cli.validatefiles.models import Loc, fields_under, format_path, model_at

SEARCH_DEPTH: Final = 3
CUTOFF: Final = 0.8


def elsewhere(model: type[BaseModel], loc: Loc) -> str | None:
    """The full path where the unknown field at ``loc`` probably belongs, or None."""
    if not loc or not isinstance(loc[-1], str):
        return None
    name = loc[-1]
    best: tuple[tuple[int, int, int], str] | None = None
    parent = loc[:-1]
    for up in range(len(parent) + 1):
        base = parent[: len(parent) - up]
        at = model_at(model, base)
        if at is None:
            continue
        for relative in fields_under(at, depth=SEARCH_DEPTH):
            if (*base, *relative[:-1]) == parent:
                continue  # the same level: the validator's own suggestion
            leaf = relative[-1]
            exact = leaf == name
            if not exact and difflib.SequenceMatcher(None, leaf, name).ratio() < CUTOFF:
                continue
            rank = (0 if exact else 1, up, len(relative))
            if best is None or rank < best[0]:
                best = (rank, format_path((*base, *relative)))
    return best[1] if best is not None else None
