"""kubectl's global flags in ``kubectl jobflow`` (``zenflow.cli.kubeflags``).

Aspects: every verb takes ``-n/--namespace``, ``--kubeconfig``, ``--context`` and ``--no-color``
before the verb and after it, with the same result; given both ways, the one after the verb
wins (as in kubectl); ``-A`` lists every namespace from before or after ``get`` and is refused
with a verb that does not list, or with a NAME; ``kubectl jobflow`` alone prints the help and
exits 0; the help lists the ``logs`` verb.
"""

from __future__ import annotations

import argparse

import pytest

from zenflow.cli import jobflow_plugin

# The smallest valid arguments of every verb (the test below checks the table is complete).
VERB_ARGS: dict[str, list[str]] = {
    "get": [],
    "status": ["flow"],
    "logs": ["flow"],
    "graph": ["flow"],
    "approve": ["flow", "gate"],
    "reject": ["flow", "gate", "--reason", "no"],
    "suspend": ["flow"],
    "resume": ["flow"],
    "cancel": ["flow"],
    "retry": ["flow"],
    "run": ["-f", "flow.yaml"],
}
GLOBAL = ["-n", "team-a", "--kubeconfig", "/tmp/k", "--context", "ctx", "--no-color"]


def _verbs() -> list[str]:
    parser = jobflow_plugin.build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(actions[0].choices)


def _globals(args: argparse.Namespace) -> tuple[object, ...]:
    return (args.namespace, args.kubeconfig, args.context, args.no_color)


def test_the_table_covers_every_verb() -> None:
    assert sorted(VERB_ARGS) == _verbs()


@pytest.mark.parametrize("verb", sorted(VERB_ARGS))
def test_global_flags_before_or_after_the_verb(verb: str) -> None:
    parser = jobflow_plugin.build_parser()
    before = parser.parse_args([*GLOBAL, verb, *VERB_ARGS[verb]])
    after = parser.parse_args([verb, *VERB_ARGS[verb], *GLOBAL])
    assert _globals(before) == _globals(after) == ("team-a", "/tmp/k", "ctx", True)
    assert vars(before) == vars(after)
    assert before.verb == verb


def test_the_flag_after_the_verb_wins() -> None:
    args = jobflow_plugin.build_parser().parse_args(["-n", "a", "suspend", "f", "--namespace=b"])
    assert args.namespace == "b"


def test_defaults_without_flags() -> None:
    args = jobflow_plugin.build_parser().parse_args(["suspend", "f"])
    assert _globals(args) == (None, None, None, False)


@pytest.mark.parametrize(
    "argv", [["-A", "get"], ["get", "-A"], ["--all-namespaces", "get"]], ids=str
)
def test_all_namespaces_where_the_plugin_lists(argv: list[str]) -> None:
    parser = jobflow_plugin.build_parser()
    args = parser.parse_args(argv)
    assert args.all_namespaces is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["-A", "status", "f"], "only applies to listing", id="status"),
        pytest.param(["-A", "logs", "f"], "only applies to listing", id="logs"),
        pytest.param(["get", "f", "-A"], "takes no NAME", id="get-name"),
    ],
)
def test_all_namespaces_is_refused_elsewhere(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        jobflow_plugin.main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_no_verb_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert jobflow_plugin.main([]) == 0
    assert jobflow_plugin.main(["-n", "team-a"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: kubectl jobflow")
    assert "logs" in out
    assert "global flags (before or after the verb)" in out
