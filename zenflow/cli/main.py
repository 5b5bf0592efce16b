"""``zenflow`` dispatcher: builds the parser from the command table and runs one command."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from zenflow import __version__


class Command(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


# (command, module under zenflow.cli, one-line help). ``main`` imports only the module of the
# command it runs, so a command's heavy dependencies load only for that process (the controller
# never loads the web UI's, the demo's or the kubectl plugin's).
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("validate", "validate", "validate JobFlow/CronJobFlow YAML files offline"),
    ("graph", "graph", "print a flow's DAG as a tree, Mermaid or DOT"),
    ("crd", "crd", "generate the CustomResourceDefinitions from the API models"),
    ("dev", "dev", "run a local Kubernetes control plane (up | down | status)"),
    ("controller", "controller", "run the JobFlow controller"),
    ("webhook", "webhook", "run the validating admission webhook alone"),
    ("demo", "demo", "start a local control plane and controller, run an example flow live"),
    ("ui", "ui", "serve the web UI (live DAG, logs, actions) on 127.0.0.1 as yourself"),
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; with ``only``, just that command's module is imported
    (the others are listed, without their arguments)."""
    parser = argparse.ArgumentParser(
        prog="zenflow", description="Run DAGs of Kubernetes Jobs declared as JobFlow resources."
    )
    parser.add_argument("--version", action="version", version=f"zenflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name, help_text in COMMANDS:
        cmd_parser = sub.add_parser(name, help=help_text, description=help_text)
        if only is not None and name != only:
            continue
        module = cast(Command, importlib.import_module(f"zenflow.cli.{module_name}"))
        module.add_arguments(cmd_parser)
        cmd_parser.set_defaults(_run=module.run)
    return parser


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs (its first word), when it names one."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in {name for name, _, _ in COMMANDS} else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=chosen_command(argv))
    args = parser.parse_args(argv)
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`zenflow … | head`): not an error of ours. Point stdout at
        # /dev/null so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
