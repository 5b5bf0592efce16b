"""``zenflow validate FILE…``: validate JobFlow/CronJobFlow YAML offline with the same validator
the webhook and controller use.

Exit status: 0 when every document is valid (warnings are printed), 1 when any is invalid (one
``file:doc: path: message`` line per problem, doc counted from 1), 2 when a file cannot be read
or is not YAML.
"""

from __future__ import annotations

import argparse
import sys

from zenflow.cli.documents import InputError, read_documents
from zenflow.core.validation.validator import validate_object


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="YAML files ('-' for stdin)")
    parser.add_argument(
        "--strict", action="store_true", help="treat warnings as errors (exit 1 on warnings)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print warnings")


def run(args: argparse.Namespace) -> int:
    invalid = unreadable = False
    documents = errors = warnings = 0
    for path in args.files:
        try:
            docs = list(read_documents(path))
        except InputError as exc:
            print(f"{exc}", file=sys.stderr)
            unreadable = True
            continue
        for doc in docs:
            documents += 1
            report = validate_object(doc.content)
            for problem in report.errors:
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
