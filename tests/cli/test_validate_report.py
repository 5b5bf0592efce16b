"""``zenflow validate`` reports every problem in one run, at its line and column
(``zenflow.cli.validatefiles``).

Aspects: a file with five mistakes of every kind (a structural one among them) gets all five, in
file order, each at its field's ``line:column``; an unknown field gets the path where it belongs
when that is at another level (``spec.failFast`` → ``spec.executionPolicy.failFast``, into and
out of a step), and keeps the validator's same-level suggestion otherwise; a repaired field
causes no second message about itself (a wrong-typed step name, a missing image); problems of a
CronJobFlow's template are found past a structural error too; ``--output json`` carries file,
document, line, column, severity, path and message, plus the unreadable files; positions: a
missing field points at its parent, a dotted map key is found, the items of a ``List`` have
their own positions.
"""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent, indent

import pytest

from zenflow.cli.main import main
from zenflow.cli.validatefiles.marks import read_marked

FIVE = """\
apiVersion: workflow.zen.io/v1alpha1
kind: JobFlow
metadata:
  name: Nightly_ETL
spec:
  failFast: false
  steps:
    - name: extract
      retryPolicy:
        limit: -1
      run:
        image: busybox
        command: ["echo", "extract"]
    - name: load
      dependencies: [extract]
      when: "steps.extract.phase == "
      template:
        spec:
          template:
            spec:
              restartPolicy: Always
              containers:
                - name: main
                  image: busybox
                  command: ["echo", "load"]
"""


def _validate(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, list[str]]:
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    code = main(["validate", *args, str(path)])
    prefix = f"{path}:"
    return code, [line.removeprefix(prefix) for line in capsys.readouterr().out.splitlines()]


def test_five_mistakes_in_one_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _validate(tmp_path, FIVE, capsys)
    assert code == 1
    assert lines == [
        "4:3: metadata.name: must be a DNS-1123 subdomain, got 'Nightly_ETL'",
        '6:3: spec.failFast: unknown field "failFast" '
        '(did you mean "spec.executionPolicy.failFast"?)',
        "10:9: spec.steps[0].retryPolicy.limit: must be >= 0, got -1",
        "16:7: spec.steps[1].when: does not compile: steps.extract.phase == ",
        "21:15: spec.steps[1].template.spec.template.spec.restartPolicy: a Job allows only "
        '"Never" or "OnFailure", got \'Always\'',
    ]


def _flow(steps: str) -> str:
    head = "apiVersion: workflow.zen.io/v1alpha1\nkind: JobFlow\nmetadata:\n  name: f\nspec:\n"
    return head + "  steps:\n" + indent(dedent(steps), "    ")


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            """\
            - name: a
              limit: 3
              run: {image: busybox, command: ["true"]}
            """,
            'spec.steps[0].limit: unknown field "limit" '
            '(did you mean "spec.steps[0].retryPolicy.limit"?)',
            id="into-a-step-field",
        ),
        pytest.param(
            """\
            - name: a
              retryPolicy: {limit: 1, timeoutSeconds: 5}
              run: {image: busybox, command: ["true"]}
            """,
            'spec.steps[0].retryPolicy.timeoutSeconds: unknown field "timeoutSeconds" '
            '(did you mean "spec.steps[0].timeoutSeconds"?)',
            id="out-to-the-step",
        ),
        pytest.param(
            """\
            - name: a
              dependecies: []
              run: {image: busybox, command: ["true"]}
            """,
            'spec.steps[0].dependecies: unknown field "dependecies" (did you mean "dependencies"?)',
            id="same-level-kept",
        ),
    ],
)
def test_did_you_mean_across_levels(
    steps: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, lines = _validate(tmp_path, _flow(steps), capsys)
    assert [line.split(": ", 1)[1] for line in lines] == [expected]


def test_a_repaired_field_gets_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = """\
    - name: 123
      run: {image: busybox, command: ["true"]}
    - name: b
      dependencies: [zz]
      run: {command: ["true"]}
    """
    code, lines = _validate(tmp_path, _flow(steps), capsys)
    assert code == 1
    assert [line.split(": ", 1)[1] for line in lines] == [
        "spec.steps[0].name: must be a string, got number",
        'spec.steps[1].dependencies[0]: unknown step "zz"',
        "spec.steps[1].run.image: required field is missing",
    ]


def test_a_cronjobflow_template_past_a_structural_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = """\
    apiVersion: workflow.zen.io/v1alpha1
    kind: CronJobFlow
    metadata: {name: nightly}
    spec:
      schedule: "0 3 * * *"
      concurrencyPolicy: Sometimes
      jobFlowTemplate:
        spec:
          steps:
            - name: a
              dependencies: [a]
              run: {image: busybox, command: ["true"]}
    """
    _, lines = _validate(tmp_path, dedent(text), capsys)
    assert [line.split(": ")[:2] for line in lines] == [
        ["6:3", "spec.concurrencyPolicy"],
        ["11:26", "spec.jobFlowTemplate.spec.steps[0].dependencies[0]"],
    ]


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "flow.yaml"
    good.write_text(FIVE)
    broken = tmp_path / "broken.yaml"
    broken.write_text("spec: [unclosed")
    assert main(["validate", "--output", "json", str(good), str(broken)]) == 2
    captured = capsys.readouterr()
    assert captured.err == ""
    doc = json.loads(captured.out)
    assert (doc["documents"], doc["errors"], doc["warnings"]) == (1, 5, 0)
    assert doc["problems"][2] == {
        "file": str(good),
        "document": 1,
        "line": 10,
        "column": 9,
        "severity": "error",
        "path": "spec.steps[0].retryPolicy.limit",
        "message": "must be >= 0, got -1",
    }
    (unreadable,) = doc["unreadable"]
    assert unreadable["file"] == str(broken)
    assert "not valid YAML" in unreadable["message"]


def test_positions(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(
        dedent(
            """\
            kind: List
            items:
              - kind: ConfigMap
                metadata:
                  labels:
                    app.kubernetes.io/name: x
              - kind: JobFlow
                spec:
                  steps:
                    - name: a
            """
        )
    )
    first, second = read_marked(str(path))
    assert (first.index, second.index) == (1, 1)
    assert first.marks.locate("metadata.labels.app.kubernetes.io/name").line == 6
    assert second.marks.locate("spec.steps[0].name").line == 10
    # Missing fields and items point at their nearest existing ancestor.
    missing = second.marks.locate("spec.steps[0].run.image")
    assert (missing.line, missing.column) == (10, 11)
    assert second.marks.locate("spec.steps[7]").line == 9
    assert second.marks.locate("").line == 7
