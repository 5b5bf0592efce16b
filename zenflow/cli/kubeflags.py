"""kubectl's global flags for the ``kubectl jobflow`` plugin, taken before or after the verb.

kubectl hands a plugin everything after its name, so ``kubectl jobflow -n team-a approve f s``
and ``kubectl jobflow approve f s -n team-a`` must mean the same. The flags are declared twice:
on the top-level parser with their defaults, and on every verb's parser (``verb_parent``) with
``SUPPRESS`` as default, so a verb parser sets a flag only when it appears after the verb and
never resets one given before it (after the verb wins when both are given, as in kubectl).

``-A/--all-namespaces`` is accepted only where the plugin lists flows (``check``).
"""

from __future__ import annotations

import argparse
from collections.abc import Collection
from typing import Any

_FLAGS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("-n", "--namespace"), {"help": "namespace (default: the context's)"}),
    (("--kubeconfig",), {"help": "kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)"}),
    (("--context",), {"help": "kubeconfig context to use"}),
    (("--no-color",), {"action": "store_true", "help": "plain output, no ANSI colours"}),
)
_ALL_NAMESPACES: tuple[tuple[str, ...], dict[str, Any]] = (
    ("-A", "--all-namespaces"),
    {"action": "store_true", "help": "list flows of every namespace"},
)


def _add(
    target: argparse.ArgumentParser | argparse._ArgumentGroup,
    flags: tuple[str, ...],
    options: dict[str, Any],
    *,
    suppress: bool,
) -> None:
    extra: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    target.add_argument(*flags, **options, **extra)


def add_global_flags(parser: argparse.ArgumentParser, *, all_namespaces: bool = True) -> None:
    """The top-level parser's flags, with their defaults."""
    group = parser.add_argument_group("global flags (before or after the verb)")
    for flags, options in _FLAGS:
        _add(group, flags, options, suppress=False)
    if all_namespaces:
        _add(group, *_ALL_NAMESPACES, suppress=False)


def verb_parent() -> argparse.ArgumentParser:
    """A parent parser giving a verb the same flags without defaults of their own."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("global flags")
    for flags, options in _FLAGS:
        _add(group, flags, options, suppress=True)
    return parent


def add_all_namespaces(parser: argparse.ArgumentParser) -> None:
    """``-A`` after a listing verb."""
    _add(parser, *_ALL_NAMESPACES, suppress=True)


def check(
    parser: argparse.ArgumentParser, args: argparse.Namespace, *, lists: Collection[str]
) -> None:
    """Refuse ``-A`` with a verb that does not list (``parser.error`` exits with status 2)."""
    if getattr(args, "all_namespaces", False) and args.verb not in lists:
        parser.error(f"-A/--all-namespaces only applies to listing flows ({', '.join(lists)})")
    if getattr(args, "all_namespaces", False) and getattr(args, "name", None):
        parser.error("-A/--all-namespaces lists flows: it takes no NAME")
