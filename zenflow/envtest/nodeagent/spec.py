"""Pure interpretation of a Pod spec for the local node agent (no I/O).

The node agent runs a container as a local process. This module decides *what* to run, from the
pod as a JSON dict: the test-driving annotations, the container environment (like the kubelet:
``envFrom`` first, then ``env`` in order, each value ``$(VAR)``-expanded against the variables
before it), the argv (``command + args`` with ``$(VAR)`` expansion), and the rewrite of the
container's ``terminationMessagePath`` to a file the agent owns.

Everything here is a function of its arguments; config maps and secrets are fetched by the caller
(see :func:`env_sources`) and passed in decoded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

# Annotations that drive a pod without running anything (mode "annotations", or any mode when
# ANNOTATION_EXIT_CODE is present). A Job's pod template annotations reach its pods.
ANNOTATION_PREFIX: Final = "envtest.zenflow.io"
ANNOTATION_EXIT_CODE: Final = f"{ANNOTATION_PREFIX}/exit-code"
"""Exit code (0..255) every container terminates with; default 0."""
ANNOTATION_DURATION_SECONDS: Final = f"{ANNOTATION_PREFIX}/duration-seconds"
"""Seconds (float ≥ 0) each container runs before terminating; default 0."""
ANNOTATION_TERMINATION_MESSAGE: Final = f"{ANNOTATION_PREFIX}/termination-message"
"""The containers' ``state.terminated.message``; default empty."""
ANNOTATION_LOG: Final = f"{ANNOTATION_PREFIX}/log"
"""What each container writes to stdout when it starts (its log); default nothing."""

# Env var naming the file the command may write its termination message to (the container's
# terminationMessagePath is also rewritten to it inside command and args).
TERMINATION_LOG_ENV: Final = "ZENFLOW_TERMINATION_LOG"
DEFAULT_TERMINATION_MESSAGE_PATH: Final = "/dev/termination-log"
MAX_TERMINATION_MESSAGE_BYTES: Final = 4096
# FallbackToLogsOnError uses at most this much of the log tail (as the kubelet does).
FALLBACK_LOG_LINES: Final = 80
FALLBACK_LOG_BYTES: Final = 2048

Pod = Mapping[str, Any]
Container = Mapping[str, Any]


class SpecError(ValueError):
    """The pod asks for something the node agent cannot do; the message says what."""


@dataclass(frozen=True)
class AnnotationPlan:
    """How an annotation-driven container ends."""

    exit_code: int
    duration_s: float
    message: str
    log: str = ""


def annotation_plan(pod: Pod, *, mode: str) -> AnnotationPlan | None:
    """The plan when the pod is annotation-driven (``mode == "annotations"`` or the exit-code
    annotation is present), else None. Raises SpecError for unparsable values."""
    annotations: Mapping[str, str] = pod.get("metadata", {}).get("annotations") or {}
    if mode != "annotations" and ANNOTATION_EXIT_CODE not in annotations:
        return None
    raw_code = annotations.get(ANNOTATION_EXIT_CODE, "0")
    try:
        exit_code = int(raw_code.strip())
    except ValueError:
        raise SpecError(
            f"annotation {ANNOTATION_EXIT_CODE}={raw_code!r} is not an integer"
        ) from None
    if not 0 <= exit_code <= 255:
        raise SpecError(f"annotation {ANNOTATION_EXIT_CODE}={raw_code!r} is not in 0..255")
    raw_duration = annotations.get(ANNOTATION_DURATION_SECONDS, "0")
    try:
        duration = float(raw_duration.strip())
    except ValueError:
        raise SpecError(
            f"annotation {ANNOTATION_DURATION_SECONDS}={raw_duration!r} is not a number"
        ) from None
    if not duration >= 0 or duration == float("inf"):
        raise SpecError(
            f"annotation {ANNOTATION_DURATION_SECONDS}={raw_duration!r} is not a finite number ≥ 0"
        )
    return AnnotationPlan(
        exit_code=exit_code,
        duration_s=duration,
        message=annotations.get(ANNOTATION_TERMINATION_MESSAGE, ""),
        log=annotations.get(ANNOTATION_LOG, ""),
    )


def expand(text: str, mapping: Callable[[str], str | None]) -> str:
    """Kubernetes ``$(VAR)`` expansion: ``$(NAME)`` becomes the mapped value, or stays as written
    when unmapped; ``$$`` is a literal ``$``; any other ``$`` and an unclosed ``$(`` stay as is."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    n = len(text)
    while cursor < n:
        if text[cursor] == "$" and cursor + 1 < n:
            out.append(text[checkpoint:cursor])
            nxt = text[cursor + 1]
            if nxt == "$":
                out.append("$")
                advance = 1
            elif nxt == "(":
                close = text.find(")", cursor + 2)
                if close < 0:
                    out.append("$(")
                    advance = 1
                else:
                    name = text[cursor + 2 : close]
                    value = mapping(name)
                    out.append(f"$({name})" if value is None else value)
                    advance = close - cursor
            else:
                out.append("$" + nxt)
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


@dataclass(frozen=True)
class EnvSources:
    """Names of the config maps and secrets a container's environment reads."""

    config_maps: frozenset[str]
    secrets: frozenset[str]


def env_sources(container: Container) -> EnvSources:
    """Which config maps and secrets :func:`resolve_env` will need for this container."""
    config_maps: set[str] = set()
    secrets: set[str] = set()
    for source in container.get("envFrom") or []:
        if ref := source.get("configMapRef"):
            config_maps.add(ref["name"])
        if ref := source.get("secretRef"):
            secrets.add(ref["name"])
    for var in container.get("env") or []:
        value_from = var.get("valueFrom") or {}
        if ref := value_from.get("configMapKeyRef"):
            config_maps.add(ref["name"])
        if ref := value_from.get("secretKeyRef"):
            secrets.add(ref["name"])
    return EnvSources(config_maps=frozenset(config_maps), secrets=frozenset(secrets))


_FIELD_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.*)'\]$")


def field_value(pod: Pod, path: str, *, host_ip: str) -> str:
    """The value of a downward-API ``fieldRef`` path."""
    metadata = pod.get("metadata", {})
    spec = pod.get("spec", {})
    simple: dict[str, str] = {
        "metadata.name": metadata.get("name", ""),
        "metadata.namespace": metadata.get("namespace", ""),
        "metadata.uid": metadata.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
        "status.podIP": host_ip,
        "status.podIPs": host_ip,
    }
    if path in simple:
        return simple[path]
    if path in ("metadata.labels", "metadata.annotations"):
        items = sorted((metadata.get(path.split(".")[1]) or {}).items())
        return "\n".join(f'{key}="{value}"' for key, value in items)
    if match := _FIELD_SUBSCRIPT.match(path):
        return str((metadata.get(match.group(1)) or {}).get(match.group(2), ""))
    raise SpecError(f"unsupported fieldRef fieldPath {path!r}")


def _key_ref(
    ref: Mapping[str, Any], store: Mapping[str, Mapping[str, str]], *, kind: str
) -> str | None:
    """A configMapKeyRef/secretKeyRef value; None when optional and missing."""
    data = store.get(ref["name"])
    optional = bool(ref.get("optional", False))
    if data is None:
        if optional:
            return None
        raise SpecError(f"{kind} {ref['name']!r} not found")
    if ref["key"] not in data:
        if optional:
            return None
        raise SpecError(f"key {ref['key']!r} not found in {kind} {ref['name']!r}")
    return data[ref["key"]]


def resolve_env(
    *,
    pod: Pod,
    container: Container,
    config_maps: Mapping[str, Mapping[str, str]],
    secrets: Mapping[str, Mapping[str, str]],
    host_ip: str,
) -> dict[str, str]:
    """The container's environment as the kubelet builds it (without service env vars).

    ``config_maps``/``secrets`` hold the decoded data of the objects named by
    :func:`env_sources`; a missing one is absent from the mapping."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for key, store, kind in (
            ("configMapRef", config_maps, "configmap"),
            ("secretRef", secrets, "secret"),
        ):
            if ref := source.get(key):
                data = store.get(ref["name"])
                if data is None:
                    if ref.get("optional", False):
                        continue
                    raise SpecError(f"{kind} {ref['name']!r} not found")
                for name, value in data.items():
                    env[prefix + name] = value
    for var in container.get("env") or []:
        name = var["name"]
        value_from = var.get("valueFrom")
        if not value_from:
            env[name] = expand(var.get("value", ""), env.get)
            continue
        if field := value_from.get("fieldRef"):
            env[name] = field_value(pod, field["fieldPath"], host_ip=host_ip)
        elif ref := value_from.get("configMapKeyRef"):
            if (found := _key_ref(ref, config_maps, kind="configmap")) is not None:
                env[name] = found
        elif ref := value_from.get("secretKeyRef"):
            if (found := _key_ref(ref, secrets, kind="secret")) is not None:
                env[name] = found
        else:
            kinds = ", ".join(sorted(value_from))
            raise SpecError(f"env {name!r}: unsupported valueFrom {kinds}")
    return env


def build_argv(*, container: Container, env: Mapping[str, str], termination_file: str) -> list[str]:
    """``command + args`` (args alone when command is empty: images are ignored), each element
    ``$(VAR)``-expanded, then every occurrence of the terminationMessagePath replaced by
    ``termination_file``."""
    command: Sequence[str] = container.get("command") or []
    args: Sequence[str] = container.get("args") or []
    if not command and not args:
        raise SpecError(
            f"container {container.get('name')!r} has neither command nor args; the local node "
            "agent ignores images and runs command/args as a process"
        )
    argv = [expand(part, env.get) for part in [*command, *args]]
    path = termination_message_path(container)
    return [part.replace(path, termination_file) for part in argv] if path else argv


def termination_message_path(container: Container) -> str:
    return str(container.get("terminationMessagePath") or DEFAULT_TERMINATION_MESSAGE_PATH)


def termination_message(
    *, container: Container, file_text: bytes, log_tail: bytes, exit_code: int
) -> str:
    """``state.terminated.message``: the termination file (at most 4096 bytes), or with
    FallbackToLogsOnError and a failed container an empty file falls back to the log tail."""
    text = file_text[:MAX_TERMINATION_MESSAGE_BYTES]
    policy = container.get("terminationMessagePolicy") or "File"
    if not text.strip() and policy == "FallbackToLogsOnError" and exit_code != 0:
        lines = log_tail.splitlines(keepends=True)[-FALLBACK_LOG_LINES:]
        text = b"".join(lines)[-FALLBACK_LOG_BYTES:]
    return text.decode("utf-8", errors="replace")
