"""Checks of an object's metadata that zenflow depends on (names that Job names derive from)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zenflow.core.validation.problems import Collector
from zenflow.core.validation.values import DNS1123_SUBDOMAIN


def check_metadata(
    metadata: Mapping[str, Any], *, max_name: int, out: Collector, why: str = ""
) -> None:
    """``metadata.name`` (or ``generateName``) is a DNS-1123 subdomain of at most
    ``max_name`` characters (``why``: the reason for that maximum, appended to the message). A
    missing name is fine offline: the API server requires one."""
    name = metadata.get("name")
    if name is not None:
        if not isinstance(name, str) or not DNS1123_SUBDOMAIN.match(name):
            out.error("metadata.name", f"must be a DNS-1123 subdomain, got {name!r}")
        elif len(name) > max_name:
            reason = f": {why}" if why else ""
            out.error(
                "metadata.name",
                f"must be at most {max_name} characters (has {len(name)}){reason}",
            )
    generate = metadata.get("generateName")
    if generate is not None and (not isinstance(generate, str) or len(generate) > max_name - 5):
        out.error("metadata.generateName", f"must be a string of at most {max_name - 5} chars")
