"""How ``zenflow validate`` reports: ``file:line:column: path: message`` lines (the form editors
and CI annotations read; warnings say ``warning:``), or one JSON document for tools.

Findings are listed in file order, then by position in the file. The JSON form::

    {"documents": 2, "errors": 1, "warnings": 0,
     "problems": [{"file": "f.yaml", "document": 1, "line": 10, "column": 9,
                   "severity": "error", "path": "spec.steps[0].retryPolicy.limit",
                   "message": "must be >= 0, got -1"}],
     "unreadable": [{"file": "g.yaml", "message": "g.yaml: not valid YAML: …"}]}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Finding:
    file: str
    document: int
    line: int
    column: int
    severity: Severity
    path: str
    message: str

    def text(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: "
        kind = "warning: " if self.severity == "warning" else ""
        subject = f"{self.path}: " if self.path else ""
        return f"{where}{kind}{subject}{self.message}"


@dataclass(frozen=True, slots=True)
class Unreadable:
    file: str
    message: str


def ordered(findings: Sequence[Finding], files: Sequence[str]) -> list[Finding]:
    rank = {name: i for i, name in enumerate(files)}
    return sorted(findings, key=lambda f: (rank.get(f.file, len(rank)), f.line, f.column))


def render_text(findings: Sequence[Finding]) -> list[str]:
    return [finding.text() for finding in findings]


def render_json(
    findings: Sequence[Finding], *, documents: int, unreadable: Sequence[Unreadable]
) -> str:
    doc = {
        "documents": documents,
        "errors": sum(1 for f in findings if f.severity == "error"),
        "warnings": sum(1 for f in findings if f.severity == "warning"),
        "problems": [asdict(f) for f in findings],
        "unreadable": [asdict(u) for u in unreadable],
    }
    return json.dumps(doc, indent=2)
