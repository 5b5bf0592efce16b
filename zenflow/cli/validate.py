"""``zenflow validate FILE…``: validate JobFlow/CronJobFlow YAML offline with the same validator
the webhook and controller use, and JobFlowTemplate/ClusterJobFlowTemplate YAML too.

A flow's ``templateRef``s are resolved from the templates among the files given (a namespaced
template matches a flow of the same ``metadata.namespace``, both defaulting to ``default``); a
template that is not among them is an error, as it would be on the cluster.

Every problem of a document is reported in one run, structural ones included (a field of the
wrong shape no longer hides the rest, ``validatefiles.passes``), each at the line and column of
its field (``file:line:column: path: message``, ``validatefiles.marks``), an unknown field with
the path where it probably belongs when that is at another level (``validatefiles.suggest``);
``--output json`` gives the same as one JSON document (``validatefiles.output``). The webhook
and the controller keep the validator's own messages.

Exit status: 0 when every document is valid (warnings are printed), 1 when any is invalid, 2 when
a file cannot be read or is not YAML.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from zenflow.api.templateref import CLUSTER_TEMPLATE_KIND
from zenflow.cli.documents import InputError
from zenflow.cli.validatefiles.marks import MarkedDocument, read_marked
from zenflow.cli.validatefiles.output import (
    Finding,
    Severity,
    Unreadable,
    ordered,
    render_json,
    render_text,
)
from zenflow.cli.validatefiles.passes import every_problem
from zenflow.core.flowtemplates.resolve import TemplateKey
from zenflow.core.validation.problems import Problem
from zenflow.core.validation.templated import TEMPLATE_KINDS, namespace_of, validate_document


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="YAML files ('-' for stdin)")
    parser.add_argument(
        "--strict", action="store_true", help="treat warnings as errors (exit 1 on warnings)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print warnings")
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="text: file:line:column: path: message lines; json: one document for tools",
    )


def run(args: argparse.Namespace) -> int:
    read: list[list[MarkedDocument]] = []
    unreadable: list[Unreadable] = []
    for path in args.files:
        try:
            read.append(list(read_marked(path)))
        except InputError as exc:
            unreadable.append(Unreadable(path, str(exc)))
    templates = templates_in(doc.content for docs in read for doc in docs)
    findings: list[Finding] = []
    for docs in read:
        for doc in docs:
            findings += _findings(doc, templates, warnings=not args.quiet or args.strict)
    findings = ordered(findings, args.files)
    documents = sum(len(docs) for docs in read)
    if args.output == "json":
        print(render_json(findings, documents=documents, unreadable=unreadable))
    else:
        for problem in unreadable:
            print(problem.message, file=sys.stderr)
        for line in render_text(findings):
            print(line)
        errors = sum(1 for f in findings if f.severity == "error")
        print(
            f"{documents} document(s) checked: {errors} error(s), "
            f"{len(findings) - errors} warning(s)",
            file=sys.stderr,
        )
    if unreadable:
        return 2
    failing = ("error", "warning") if args.strict else ("error",)
    return 1 if any(f.severity in failing for f in findings) else 0


def _findings(
    doc: MarkedDocument, templates: Mapping[TemplateKey, Mapping[str, Any]], *, warnings: bool
) -> list[Finding]:
    found = every_problem(doc.content, lambda obj: validate_document(obj, templates))
    out: list[Finding] = []
    severities: list[tuple[Severity, list[Problem]]] = [("error", found.errors)]
    if warnings:
        severities.append(("warning", found.warnings))
    for severity, problems in severities:
        for problem in problems:
            if problem.message.endswith(" not found") and "Template " in problem.message:
                problem = Problem(problem.path, f"{problem.message} in the files given")
            at = doc.marks.locate(problem.path)
            out.append(
                Finding(
                    file=doc.source,
                    document=doc.index,
                    line=at.line,
                    column=at.column,
                    severity=severity,
                    path=problem.path,
                    message=problem.message,
                )
            )
    return out


def templates_in(objects: Iterable[Any]) -> dict[TemplateKey, Mapping[str, Any]]:
    """The templates among ``objects``, by (kind, namespace, name)."""
    found: dict[TemplateKey, Mapping[str, Any]] = {}
    for obj in objects:
        if not isinstance(obj, Mapping) or obj.get("kind") not in TEMPLATE_KINDS:
            continue
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, Mapping) else None
        if not isinstance(name, str):
            continue
        kind = str(obj["kind"])
        namespace = "" if kind == CLUSTER_TEMPLATE_KIND else namespace_of(obj)
        found[(kind, namespace, name)] = obj
    return found
