"""Pure pod-spec interpretation of the node agent.

Aspects: Kubernetes ``$(VAR)`` expansion (escapes, unknown and unclosed references); annotation
plans (mode, defaults, invalid values); env resolution (value expansion against earlier vars,
downward-API fieldRefs, config map / secret refs and envFrom, optional refs, errors); argv
construction (command/args fallbacks, expansion, terminationMessagePath rewriting); the
termination message (file, size cap, FallbackToLogsOnError).
"""

from __future__ import annotations

from typing import Any

import pytest

from zenflow.envtest.nodeagent.spec import (
    ANNOTATION_DURATION_SECONDS,
    ANNOTATION_EXIT_CODE,
    ANNOTATION_TERMINATION_MESSAGE,
    AnnotationPlan,
    SpecError,
    annotation_plan,
    build_argv,
    env_sources,
    expand,
    resolve_env,
    termination_message,
)

VARS = {"A": "alpha", "B": "beta", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("plain", "plain", id="no-reference"),
        pytest.param("$(A)", "alpha", id="whole"),
        pytest.param("x-$(A)-$(B)-y", "x-alpha-beta-y", id="several"),
        pytest.param("$(EMPTY)|", "|", id="empty-value"),
        pytest.param("$(UNKNOWN)", "$(UNKNOWN)", id="unknown-kept"),
        pytest.param("$$(A)", "$(A)", id="escaped"),
        pytest.param("$$$(A)", "$alpha", id="escape-then-reference"),
        pytest.param("cost $5", "cost $5", id="dollar-other"),
        pytest.param("end$", "end$", id="trailing-dollar"),
        pytest.param("$(A", "$(A", id="unclosed"),
        pytest.param("$()", "$()", id="empty-name"),
        pytest.param("$(A)$(B)", "alphabeta", id="adjacent"),
    ],
)
def test_expand(text: str, expected: str) -> None:
    assert expand(text, VARS.get) == expected


def _pod(annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "p1",
            "namespace": "ns1",
            "uid": "u-1",
            "labels": {"app": "x", "tier": "db"},
            "annotations": annotations or {},
        },
        "spec": {"nodeName": "zenflow-local", "serviceAccountName": "default", **spec},
    }


@pytest.mark.parametrize(
    ("mode", "annotations", "expected"),
    [
        pytest.param("exec", {}, None, id="exec-unannotated-runs"),
        pytest.param("annotations", {}, AnnotationPlan(0, 0.0, ""), id="annotations-defaults"),
        pytest.param(
            "exec",
            {ANNOTATION_EXIT_CODE: "3"},
            AnnotationPlan(3, 0.0, ""),
            id="exit-code-overrides-exec",
        ),
        pytest.param(
            "annotations",
            {
                ANNOTATION_EXIT_CODE: " 7 ",
                ANNOTATION_DURATION_SECONDS: "1.5",
                ANNOTATION_TERMINATION_MESSAGE: '{"x":1}',
            },
            AnnotationPlan(7, 1.5, '{"x":1}'),
            id="all-set",
        ),
        pytest.param(
            "exec", {ANNOTATION_DURATION_SECONDS: "5"}, None, id="duration-alone-does-not-switch"
        ),
    ],
)
def test_annotation_plan(
    mode: str, annotations: dict[str, str], expected: AnnotationPlan | None
) -> None:
    assert annotation_plan(_pod(annotations), mode=mode) == expected


@pytest.mark.parametrize(
    ("annotations", "fragment"),
    [
        pytest.param({ANNOTATION_EXIT_CODE: "abc"}, "not an integer", id="code-text"),
        pytest.param({ANNOTATION_EXIT_CODE: "256"}, "0..255", id="code-range"),
        pytest.param({ANNOTATION_DURATION_SECONDS: "soon"}, "not a number", id="duration-text"),
        pytest.param({ANNOTATION_DURATION_SECONDS: "-1"}, "≥ 0", id="duration-negative"),
        pytest.param({ANNOTATION_DURATION_SECONDS: "nan"}, "≥ 0", id="duration-nan"),
    ],
)
def test_annotation_plan_rejects(annotations: dict[str, str], fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment):
        annotation_plan(_pod(annotations), mode="annotations")


def test_resolve_env_order_fieldrefs_and_refs() -> None:
    container = {
        "name": "main",
        "envFrom": [
            {"configMapRef": {"name": "cm"}, "prefix": "CM_"},
            {"secretRef": {"name": "absent", "optional": True}},
        ],
        "env": [
            {"name": "GREETING", "value": "hello"},
            {"name": "MSG", "value": "$(GREETING) $(POD) $(LATER)"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "LABELS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {
                "name": "KEY",
                "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}},
            },
            {
                "name": "PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}},
            },
            {
                "name": "MAYBE",
                "valueFrom": {"secretKeyRef": {"name": "sec", "key": "nope", "optional": True}},
            },
            {"name": "LATER", "value": "late"},
            {"name": "ESCAPED", "value": "$$(GREETING)"},
        ],
    }
    assert env_sources(container).config_maps == frozenset({"cm"})
    assert env_sources(container).secrets == frozenset({"sec", "absent"})
    env = resolve_env(
        pod=_pod(),
        container=container,
        config_maps={"cm": {"k": "v", "other": "o"}},
        secrets={"sec": {"pw": "s3cret"}},
        host_ip="127.0.0.1",
    )
    assert env == {
        "CM_k": "v",
        "CM_other": "o",
        "GREETING": "hello",
        # POD is defined after MSG and LATER even later: both stay unexpanded, as in Kubernetes.
        "MSG": "hello $(POD) $(LATER)",
        "POD": "p1",
        "NS": "ns1",
        "APP": "x",
        "LABELS": 'app="x"\ntier="db"',
        "IP": "127.0.0.1",
        "NODE": "zenflow-local",
        "KEY": "v",
        "PASSWORD": "s3cret",
        "LATER": "late",
        "ESCAPED": "$(GREETING)",
    }


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        pytest.param(
            [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "missing", "key": "k"}}}],
            "configmap 'missing' not found",
            id="missing-configmap",
        ),
        pytest.param(
            [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "nope"}}}],
            "key 'nope' not found in secret 'sec'",
            id="missing-key",
        ),
        pytest.param(
            [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}],
            "unsupported fieldRef",
            id="bad-fieldref",
        ),
        pytest.param(
            [{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}],
            "unsupported valueFrom resourceFieldRef",
            id="resource-fieldref",
        ),
    ],
)
def test_resolve_env_errors(env: list[dict[str, Any]], fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment):
        resolve_env(
            pod=_pod(),
            container={"name": "c", "env": env},
            config_maps={},
            secrets={"sec": {"pw": "x"}},
            host_ip="127.0.0.1",
        )


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        pytest.param(
            {"command": ["sh", "-c"], "args": ["echo $(A) > /dev/termination-log"]},
            ["sh", "-c", "echo alpha > /tmp/t.log"],
            id="command-args-expanded-and-rewritten",
        ),
        pytest.param({"args": ["/bin/echo", "$(B)"]}, ["/bin/echo", "beta"], id="args-only"),
        pytest.param(
            {
                "command": ["cat", "/data/msg"],
                "terminationMessagePath": "/data/msg",
            },
            ["cat", "/tmp/t.log"],
            id="custom-termination-path",
        ),
        pytest.param(
            {"command": ["echo", "/dev/termination-log-x"]},
            ["echo", "/tmp/t.log-x"],
            id="substring-rewritten",
        ),
    ],
)
def test_build_argv(container: dict[str, Any], expected: list[str]) -> None:
    assert build_argv(container=container, env=VARS, termination_file="/tmp/t.log") == expected


def test_build_argv_needs_command_or_args() -> None:
    with pytest.raises(SpecError, match="neither command nor args"):
        build_argv(container={"name": "c", "image": "busybox"}, env={}, termination_file="/t")


@pytest.mark.parametrize(
    ("policy", "file_text", "exit_code", "expected"),
    [
        pytest.param("File", b'{"x":1}\n', 0, '{"x":1}\n', id="file"),
        pytest.param("File", b"", 1, "", id="file-empty-no-fallback"),
        pytest.param("FallbackToLogsOnError", b"", 1, "line2\nline3\n", id="fallback-on-error"),
        pytest.param("FallbackToLogsOnError", b"", 0, "", id="no-fallback-on-success"),
        pytest.param("FallbackToLogsOnError", b"msg", 1, "msg", id="file-wins"),
        pytest.param("File", b"y" * 5000, 0, "y" * 4096, id="capped-at-4096"),
    ],
)
def test_termination_message(policy: str, file_text: bytes, exit_code: int, expected: str) -> None:
    container = {"name": "c", "terminationMessagePolicy": policy}
    message = termination_message(
        container=container, file_text=file_text, log_tail=b"line2\nline3\n", exit_code=exit_code
    )
    assert message == expected


def test_fallback_uses_at_most_80_lines_and_2048_bytes() -> None:
    container = {"terminationMessagePolicy": "FallbackToLogsOnError"}
    lines = b"".join(f"{i}\n".encode() for i in range(200))
    message = termination_message(container=container, file_text=b"", log_tail=lines, exit_code=2)
    assert message.splitlines() == [str(i) for i in range(120, 200)]
    long_lines = b"z" * 3000 + b"\n"
    message = termination_message(
        container=container, file_text=b"", log_tail=long_lines, exit_code=2
    )
    assert len(message) == 2048
