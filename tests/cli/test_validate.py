"""Tests of `zenflow validate` (zenflow.cli.validate).

Aspects: every example is valid (exit 0); each deliberately broken flow in tests/data/invalid
exits 1 with its expected `file:line:column: path: message` line (table-driven, and the table
covers every file of the folder); oversize flows (too many steps, spec too large) generated on
the fly; a problem in a later document of a file points at its line there; warnings print but
exit 0 unless --strict; unreadable files and bad YAML exit 2.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from zenflow.cli.main import main

ROOT = Path(__file__).parents[2]
INVALID = ROOT / "tests" / "data" / "invalid"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))

TABLE = [
    pytest.param("duplicate-step-name", 'spec.steps[1].name: duplicate step name "build"'),
    pytest.param("invalid-step-name", "spec.steps[0].name: invalid step name 'Build_Step'"),
    pytest.param(
        "step-name-too-long",
        "spec.steps[0].name: invalid step name 'a-step-name-that-is-far-too-long-to-be-useful': "
        "must be at most 40 characters (has 45)",
    ),
    pytest.param(
        "unknown-dependency",
        'spec.steps[1].dependencies[0]: unknown step "trasnform" (did you mean "transform"?)',
    ),
    pytest.param(
        "self-dependency", 'spec.steps[0].dependencies[0]: step "loop" cannot depend on itself'
    ),
    pytest.param("cycle", "spec.steps[0].dependencies: dependency cycle: a -> b -> c -> a"),
    pytest.param(
        "no-containers",
        "spec.steps[0].template.spec.template.spec.containers: must be a non-empty list",
    ),
    pytest.param(
        "bad-restart-policy",
        "spec.steps[0].template.spec.template.spec.restartPolicy: a Job allows only "
        '"Never" or "OnFailure", got \'Always\'',
    ),
    pytest.param(
        "malformed-template",
        "spec.steps[0].template.spec.template.spec.containers[0].command: must be a list of "
        "strings",
    ),
    pytest.param(
        "manual-with-template", "spec.steps[0].template: a Manual step runs nothing: remove it"
    ),
    pytest.param("no-template-or-run", "spec.steps[0]: a Job step needs either template or run"),
    pytest.param("template-and-run", "spec.steps[0].run: set either template or run, not both"),
    pytest.param("when-does-not-compile", "spec.steps[1].when: does not compile"),
    pytest.param("when-unknown-step", 'spec.steps[1].when: steps.deploy: unknown step "deploy"'),
    pytest.param(
        "when-not-a-dependency",
        'spec.steps[1].when: steps.a: step "a" is not guaranteed to finish before "b"',
    ),
    pytest.param(
        "unknown-param", "spec.steps[0].run.command[1]: {{ params.region }}: unknown param"
    ),
    pytest.param(
        "unknown-output",
        'spec.steps[1].run.command[1]: {{ steps.split.outputs.partitions }}: step "split" '
        "declares no output 'partitions' (declared: parts)",
    ),
    pytest.param(
        "unknown-step-reference",
        'spec.steps[0].run.command[1]: {{ steps.ghost.outputs.x }}: unknown step "ghost"',
    ),
    pytest.param(
        "bad-duration",
        "spec.steps[0].retryPolicy.backoff.duration: invalid duration '10 seconds'",
    ),
    pytest.param(
        "unknown-field",
        'spec.steps[1].dependecies: unknown field "dependecies" (did you mean "dependencies"?)',
    ),
    pytest.param(
        "bad-enum",
        "spec.executionPolicy.concurrencyPolicy: must be one of 'Allow', 'Forbid' or "
        "'Replace', got 'Sometimes'",
    ),
    pytest.param("negative-number", "spec.steps[0].retryPolicy.limit: must be >= 0, got -1"),
    pytest.param(
        "matrix-unknown-key",
        "spec.steps[0].run.command[1]: {{ matrix.zone }}: no matrix key 'zone'",
    ),
    pytest.param(
        "matrix-too-large", "spec.steps[0].matrix: expands to 289 Jobs; at most 256 are allowed"
    ),
    pytest.param(
        "required-param", 'spec.params[0]: param "date" is required: set value or default'
    ),
    pytest.param(
        "finally-depends-on-step",
        "spec.finally[0].dependencies[0]: finally steps run after every step",
    ),
    pytest.param("no-steps", "spec.steps: at least one step is required"),
    pytest.param("bad-cron", "spec.schedule: invalid cron schedule '61 25 * * *'"),
    pytest.param("bad-timezone", "spec.timeZone: unknown time zone 'Mars/Olympus'"),
    pytest.param(
        "cron-never-fires", "spec.schedule: cron schedule '0 0 31 2 *' never fires: no date matches"
    ),
    pytest.param(
        "cron-name-too-long",
        "metadata.name: must be at most 52 characters (has 53): its runs are named "
        "<name>-<unix minutes>, at most 63 characters",
    ),
    pytest.param(
        "cron-template-cycle",
        "spec.jobFlowTemplate.spec.steps[0].dependencies: dependency cycle: a -> b -> a",
    ),
    pytest.param("wrong-kind", "kind: must be 'JobFlow' or 'CronJobFlow', got 'Workflow'"),
    pytest.param(
        "unknown-workspace",
        'spec.steps[0].workspaces[0].name: unknown workspace "srcs" (did you mean "src"?)',
    ),
    pytest.param(
        "mount-path-clash",
        'spec.steps[0].workspaces[1].mountPath: /work is also where workspace "src" is mounted',
    ),
]


def messages(out: str, path: Path) -> list[str]:
    """``path: message`` of each ``file:line:column: path: message`` line about ``path``."""
    position = re.compile(rf"^{re.escape(str(path))}:\d+:\d+: ")
    return [position.sub("", line) for line in out.splitlines() if position.match(line)]


def test_examples_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *map(str, EXAMPLES)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{len(EXAMPLES)} document(s) checked: 0 error(s)" in err


def test_table_covers_every_broken_flow() -> None:
    assert sorted(p.name[:-5] for p in INVALID.glob("*.yaml")) == sorted(
        str(case.values[0]) for case in TABLE
    )


@pytest.mark.parametrize(("name", "expected"), TABLE, ids=[str(c.values[0]) for c in TABLE])
def test_broken_flows_exit_1_with_the_expected_message(
    name: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = INVALID / f"{name}.yaml"
    assert main(["validate", str(path)]) == 1
    found = messages(capsys.readouterr().out, path)
    assert expected in [message[: len(expected)] for message in found], found


def _steps(count: int, script: str = "true") -> list[dict[str, object]]:
    return [{"name": f"s{i}", "run": {"image": "busybox", "script": script}} for i in range(count)]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(_steps(1001), "spec.steps: must have at most 1000 items", id="too-many"),
        pytest.param(_steps(80, script="x" * 4000), "spec: spec is", id="too-large"),
    ],
)
def test_size_limits(
    tmp_path: Path,
    steps: list[dict[str, object]],
    expected: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "workflow.zen.io/v1alpha1",
                "kind": "JobFlow",
                "metadata": {"name": "big"},
                "spec": {"steps": steps},
            }
        )
    )
    assert main(["validate", str(path)]) == 1
    assert any(m.startswith(expected) for m in messages(capsys.readouterr().out, path))


def test_multi_document_files_number_documents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = (ROOT / "examples" / "diamond.yaml").read_text()
    bad = (INVALID / "cycle.yaml").read_text()
    path = tmp_path / "multi.yaml"
    path.write_text(f"{good}\n---\n# empty document\n---\n{bad}")
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if "dependency cycle" in line]
    number = int(line.split(":")[1])
    # In the third document: after the first one and the empty one.
    assert number > len(good.splitlines()) + 2
    assert path.read_text().splitlines()[number - 1].strip().startswith("dependencies:")


def test_warnings_print_and_exit_0_unless_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "warn.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "workflow.zen.io/v1alpha1",
                "kind": "JobFlow",
                "metadata": {"name": "w"},
                "spec": {"steps": _steps(1), "params": [{"name": "unused", "default": "x"}]},
            }
        )
    )
    assert main(["validate", str(path)]) == 0
    (warning,) = messages(capsys.readouterr().out, path)
    assert warning.startswith('warning: spec.params[0]: param "unused" is never used')
    assert main(["validate", "--strict", str(path)]) == 1
    capsys.readouterr()
    assert main(["validate", "--quiet", str(path)]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "cannot read", id="missing"),
        pytest.param("spec: [unclosed", "not valid YAML", id="bad-yaml"),
        pytest.param(b"\xff\xfe\x00", "cannot read", id="not-utf8"),
    ],
)
def test_unreadable_input_exits_2(
    tmp_path: Path, content: str | bytes | None, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "input.yaml"
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    assert main(["validate", str(path), str(INVALID / "cycle.yaml")]) == 2
    captured = capsys.readouterr()
    assert f"{path}: {message}" in captured.err
    assert "dependency cycle" in captured.out  # the readable file is still checked
