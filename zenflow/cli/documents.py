"""Reading YAML files of (possibly several) Kubernetes objects for the offline commands."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class InputError(Exception):
    """A file could not be read or is not YAML; the message names the file (exit code 2)."""


@dataclass(frozen=True)
class Document:
    """One non-empty YAML document: where it came from (1-based index) and its content."""

    source: str
    index: int
    content: Any

    @property
    def label(self) -> str:
        return f"{self.source}:{self.index}"


def read_documents(path: str) -> Iterator[Document]:
    """Every non-empty document of ``path`` (``-`` is stdin); raises InputError."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {_one_line(exc)}") from exc
    for index, content in enumerate(docs, start=1):
        if content is None:
            continue
        if isinstance(content, dict) and content.get("kind") == "List":
            for item in content.get("items") or []:
                yield Document(path, index, item)
        else:
            yield Document(path, index, content)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
