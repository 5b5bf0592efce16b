"""Each step's JSON, as received, with the ``{{ }}`` references in it: serialized at most once
per validation and shared by the checks that read it (references, rendered size, shell use).

Invariant: ``StepTexts.of(section, i, step)`` is the compact JSON of the raw step when the raw
spec's list lines up with the parsed one (it is what the API server stores), else of the parsed
step without defaults; the references are those ``templating.parse_references`` finds in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pydantic_core

from zenflow.api.jobflow import Step
from zenflow.core import templating


@dataclass(frozen=True, slots=True)
class StepText:
    data: bytes
    refs: list[templating.Reference]
    errors: list[str]


class StepTexts:
    """Lazily serialized steps of one spec (``raw``: the spec as received, if known)."""

    def __init__(self, raw: Mapping[str, Any] | None) -> None:
        self._raw = raw
        self._cache: dict[tuple[str, int], StepText] = {}

    def of(self, section: str, index: int, step: Step) -> StepText:
        key = (section, index)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._serialize(section, index, step)
        return found

    def _serialize(self, section: str, index: int, step: Step) -> StepText:
        items = self._raw.get(section) if self._raw is not None else None
        if isinstance(items, list) and index < len(items) and isinstance(items[index], Mapping):
            data = pydantic_core.to_json(items[index], fallback=str)
        else:
            data = step.model_dump_json(
                by_alias=True, exclude_none=True, exclude_defaults=True
            ).encode()
        if b"{{" not in data:
            return StepText(data, [], [])
        refs, errors = templating.parse_references(data.decode())
        return StepText(data, refs, errors)
