"""Tests of `zenflow graph` (zenflow.cli.graph).

Aspects: the terminal tree (shared dependents drawn once, finally section, step notes), Mermaid
and DOT output with every edge, picking a flow by name, a CronJobFlow's template, and exit codes
for unreadable input (2) and files without a flow (1).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from zenflow.cli.main import main

EXAMPLES = Path(__file__).parents[2] / "examples"


def graph(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["graph", *args]) == 0
    return capsys.readouterr().out


def test_tree_of_a_diamond(capsys: pytest.CaptureFixture[str]) -> None:
    out = graph(capsys, str(EXAMPLES / "diamond.yaml"))
    assert out.splitlines() == [
        "diamond (4 steps, 0 finally)",
        "└── start",
        "    ├── path-a",
        "    │   └── merge ↓ (drawn under path-b)",
        "    └── path-b",
        "        └── merge (after path-a, path-b)",
    ]


def test_tree_notes_and_finally(capsys: pytest.CaptureFixture[str]) -> None:
    out = graph(capsys, str(EXAMPLES / "fallback-finally.yaml"))
    assert "main-process [continueOnFailure]" in out
    assert 'fallback [when steps["main-process"].phase == "Failed"]' in out
    assert out.splitlines()[-2:] == ["finally:", "└── cleanup"]


def test_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    out = graph(capsys, "--format", "mermaid", str(EXAMPLES / "manual-approval.yaml"))
    lines = out.splitlines()
    assert lines[0] == "flowchart TD"
    assert '  s_approve{"approve [manual]"}' in lines
    assert "  s_build --> s_approve" in lines
    assert "  s_approve --> s_deploy" in lines


def test_dot(capsys: pytest.CaptureFixture[str]) -> None:
    out = graph(capsys, "--format", "dot", str(EXAMPLES / "fan-in.yaml"))
    assert out.startswith('digraph "map-reduce" {')
    for source in ("map-1", "map-2", "map-3"):
        assert f'  "{source}" -> "reduce";' in out
    assert out.rstrip().endswith("}")


def test_cronjobflow_template_and_name_selection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "two.yaml"
    diamond = (EXAMPLES / "diamond.yaml").read_text()
    path.write_text(diamond + "\n---\n" + (EXAMPLES / "cronjobflow.yaml").read_text())
    out = graph(capsys, "--name", "nightly-etl", str(path))
    assert out.splitlines()[0] == "nightly-etl (3 steps, 0 finally)"
    assert "        └── load" in out


def test_a_cycle_is_still_drawn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    invalid = Path(__file__).parents[1] / "data" / "invalid" / "cycle.yaml"
    out = graph(capsys, "--format", "tree", str(invalid))
    assert "a (in a dependency cycle)" in out


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        pytest.param("a: [", 2, "not valid YAML", id="bad-yaml"),
        pytest.param("kind: ConfigMap\n", 1, "no JobFlow, CronJobFlow or template", id="no-flow"),
        pytest.param(
            "apiVersion: workflow.zen.io/v1alpha1\nkind: JobFlow\nspec: {steps: 3}\n",
            1,
            "cannot draw an invalid flow",
            id="invalid",
        ),
    ],
)
def test_errors(
    tmp_path: Path, content: str, code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(content)
    assert main(["graph", str(path)]) == code
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["tree", "mermaid", "dot"])
@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_draws(path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = graph(capsys, "--format", fmt, str(path))
    assert out.strip()
    assert "(in a dependency cycle)" not in out
