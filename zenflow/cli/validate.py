"""``zenflow validate FILE…``: validate JobFlow/CronJobFlow YAML offline with the same validator
the webhook and controller use, and JobFlowTemplate/ClusterJobFlowTemplate YAML too.

A flow's ``templateRef``s are resolved from the templates among the files given (a namespaced
template matches a flow of the same ``metadata.namespace``, both defaulting to ``default``); a
template that is not among them is an error, as it would be on the cluster.

Exit status: 0 when every document is valid (warnings are printed), 1 when any is invalid (one
``file:doc: path: message`` line per problem, doc counted from 1), 2 when a file cannot be read
or is not YAML.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from zenflow.api.templateref import CLUSTER_TEMPLATE_KIND
from zenflow.cli.documents import Document, InputError, read_documents
from zenflow.core.flowtemplates.resolve import TemplateKey
from zenflow.core.validation.problems import Problem
from zenflow.core.validation.templated import TEMPLATE_KINDS, namespace_of, validate_document


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="YAML files ('-' for stdin)")
    parser.add_argument(
        "--strict", action="store_true", help="treat warnings as errors (exit 1 on warnings)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print warnings")


def run(args: argparse.Namespace) -> int:
    invalid = unreadable = False
    documents = errors = warnings = 0
    read: list[list[Document]] = []
    for path in args.files:
        try:
            read.append(list(read_documents(path)))
        except InputError as exc:
            print(f"{exc}", file=sys.stderr)
            unreadable = True
    templates = templates_in(doc.content for docs in read for doc in docs)
    for docs in read:
        for doc in docs:
            documents += 1
            report = validate_document(doc.content, templates)
            for problem in report.errors:
                if problem.message.endswith(" not found") and "Template " in problem.message:
                    problem = Problem(problem.path, f"{problem.message} in the files given")
                print(f"{doc.label}: {problem}")
            if not args.quiet or args.strict:
                for problem in report.warnings:
                    print(f"{doc.label}: warning: {problem}")
            errors += len(report.errors)
            warnings += len(report.warnings)
            if report.errors or (args.strict and report.warnings):
                invalid = True
    print(
        f"{documents} document(s) checked: {errors} error(s), {warnings} warning(s)",
        file=sys.stderr,
    )
    if unreadable:
        return 2
    return 1 if invalid else 0


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
