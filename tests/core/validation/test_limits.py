"""The validator's explicit limits on what a tenant's flow may make the controller do or store.

Aspects: a spec nested deeper than MAX_SPEC_DEPTH (250 levels, where pydantic's serializer gave
up, and 10,000, as the API server stores it) is one error naming the first too-deep path and
nothing downstream walks it; the spec's JSON (``compact_json``: orjson, pydantic-core for what
orjson refuses) is byte for byte what pydantic-core writes; a deep ``when`` is an error on that
field; Jobs per run count matrix shards (a matrix over an output at its cap); the status
estimate refuses the oversized matrix flows of issue 9 (70 and 300 matrix steps) while a
1,020-step flow with outputs passes; a step whose Job renders past MAX_RENDERED_JOB_BYTES (a
61 KB spec inflated 35x by one param, spec.env copied into many containers) is named with the
reason; an exception inside a check becomes an error naming the part checked, never a crash.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
import pytest

from tests.core.planning.flows import cron, flow, job, template
from zenflow.api import limits
from zenflow.core.validation import refs
from zenflow.core.validation.sizes import SHARD_ENTRY_BYTES, STEP_ENTRY_BYTES, compact_json
from zenflow.core.validation.validator import validate_object


def errors(obj: dict[str, Any]) -> list[str]:
    return [str(p) for p in validate_object(obj).errors]


def deep(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        node = {"x": node}
    return node


@pytest.mark.parametrize("depth", [40, 250, 2_000, 10_000])
def test_a_too_deep_template_is_one_error_naming_where(depth: int) -> None:
    step = job("a", run=None, template={**template(), "metadata": {"annotations": deep(depth)}})
    found = errors(flow(step))
    assert len(found) == 1
    path, _, message = found[0].partition(": ")
    # spec(1) steps(2) [0](3) template(4) metadata(5) annotations(6), then x at 7, 8, …: the
    # path names the first container at MAX_SPEC_DEPTH + 1
    assert path.startswith("spec.steps[0].template.metadata.annotations.x.x")
    assert path.count(".x") == limits.MAX_SPEC_DEPTH + 1 - 6
    assert message == (
        f"nests more than {limits.MAX_SPEC_DEPTH} levels deep (counting from spec); "
        "Kubernetes objects nest about 20"
    )


def test_a_too_deep_cronjobflow_template_is_refused_too() -> None:
    obj = cron()
    obj["spec"]["jobFlowTemplate"]["spec"]["steps"][0]["run"]["resources"] = deep(300)
    found = errors(obj)
    assert len(found) == 1
    assert found[0].startswith("spec.jobFlowTemplate.spec.steps[0].run.resources.x")


def test_a_spec_at_the_depth_limit_is_fine() -> None:
    # template(4) metadata(5) annotations(6): 26 more levels reach 32 exactly
    step = job("a", run=None, template={**template(), "metadata": {"labels": deep(26)}})
    assert not any("levels deep" in e for e in errors(flow(step)))


@pytest.mark.parametrize(
    "raw",
    [
        {
            "steps": [
                {"name": "a", "run": {"image": "busybox", "command": ["echo", 'é \u2028 \\ "']}}
            ]
        },
        {"n": [0, -1, 1.5, 1e20, True, None, "x"], "nested": {"a": [{"b": []}]}},
    ],
)
def test_compact_json_is_what_pydantic_core_writes(raw: dict[str, Any]) -> None:
    assert compact_json(raw) == pydantic_core.to_json(raw, fallback=str)


def test_compact_json_hands_what_orjson_refuses_to_pydantic_core() -> None:
    # integers past 64 bits (JSON allows them; YAML-read specs can hold them)
    assert compact_json({"n": 2**70}) == b'{"n":1180591620717411303424}'
    with pytest.raises(pydantic_core.PydanticSerializationError):
        compact_json(deep(300))  # past both serializers' nesting limits: spec_json reports it


def test_a_when_with_250_nested_parentheses_is_an_error_on_that_field() -> None:
    when = "(" * 250 + "true" + ")" * 250
    assert errors(flow(job("a"), job("b", "a", when=when))) == [
        f"spec.steps[1].when: nests 250 levels of parentheses/brackets; at most "
        f"{limits.MAX_WHEN_NESTING} are allowed"
    ]


def test_matrix_shards_count_towards_the_jobs_of_a_run() -> None:
    steps = [
        job(f"m{i}", matrix={"values": {"a": list(range(16)), "b": list(range(16))}})
        for i in range(8)
    ]
    steps.append(job("split", outputs=[{"name": "items"}]))
    steps.append(job("fan", "split", matrix={"from": {"x": "{{ steps.split.outputs.items }}"}}))
    found = errors(flow(*steps))
    jobs = [e for e in found if "Jobs" in e]
    assert jobs == [
        "spec.steps: one run of the flow creates up to 2305 Jobs (a Job per step, one per "
        "matrix shard, 256 for a matrix over an output); at most 2000 are allowed (largest: "
        "spec.steps[0] 256 Jobs, spec.steps[1] 256 Jobs, spec.steps[2] 256 Jobs)"
    ]


@pytest.mark.parametrize("matrix_steps", [70, 300])
def test_the_oversized_matrix_flows_of_issue_9_are_refused(matrix_steps: int) -> None:
    values = {"a": [f"v{i}" for i in range(16)], "b": [f"w{i}" for i in range(16)]}
    obj = flow(*(job(f"m{i}", matrix={"values": values}) for i in range(matrix_steps)))
    found = errors(obj)
    assert any(e.startswith("spec.steps: one run of the flow creates up to") for e in found)
    status = [e for e in found if "status can grow" in e]
    assert len(status) == 1
    shards_kib = matrix_steps * 256 * SHARD_ENTRY_BYTES // 1024
    estimate = int(status[0].split("can grow to ")[1].split(" KiB")[0])
    assert shards_kib <= estimate < shards_kib * 1.1  # the shards dominate
    assert "at most 768 KiB are allowed" in status[0]
    assert status[0].endswith(
        "(largest: spec.steps[0] 70 KiB, spec.steps[1] 70 KiB, spec.steps[2] 70 KiB)"
    )


def test_the_largest_plain_flow_with_outputs_fits_the_status_estimate() -> None:
    steps = [job(f"s{i}", outputs=[{"name": "v"}]) for i in range(limits.MAX_STEPS)]
    final = [job(f"f{i}") for i in range(limits.MAX_FINALLY_STEPS)]
    assert STEP_ENTRY_BYTES * 1020 < limits.MAX_STATUS_BYTES
    assert errors(flow(*steps, finally_=final)) == []


def test_a_param_inflating_a_job_past_the_limit_is_named() -> None:
    """A 61 KB spec whose Job renders to 2.1 MB: the param is pasted 35 times."""
    big = "x" * 60_000
    command = ["echo", *["{{ params.big }}"] * 35]
    obj = flow(
        job("small"),
        job("inflated", run={"image": "busybox", "command": command}),
        params=[{"name": "big", "default": big}],
    )
    found = errors(obj)
    assert len(found) == 1
    assert found[0].startswith("spec.steps[1]: the Job this step renders can reach 2,1")
    assert found[0].endswith(
        f"at most {limits.MAX_RENDERED_JOB_BYTES:,} are allowed: {{{{ params.big }}}} "
        "(60,000 bytes) appears 35 times"
    )


def test_spec_env_copied_into_every_container_counts_per_container() -> None:
    env = [{"name": f"V{i}", "value": "y" * 9_000} for i in range(10)]
    containers = [{"name": f"c{i}", "image": "busybox"} for i in range(8)]
    obj = flow(
        job("one"),
        job("many", run=None, template=template(containers=containers)),
        env=env,
    )
    found = errors(obj)
    assert len(found) == 1
    assert found[0].startswith("spec.steps[1]: the Job this step renders can reach")
    assert found[0].endswith("is copied into 8 containers")


def test_outputs_count_at_their_cap_in_the_rendered_size() -> None:
    command = ["echo", *["{{ steps.a.outputs.v }}"] * 600]
    obj = flow(
        job("a", outputs=[{"name": "v"}]),
        job("b", "a", run={"image": "busybox", "command": command}),
    )
    found = errors(obj)
    assert len(found) == 1
    assert "{{ steps.a.outputs.v }} (1,024 bytes) appears 600 times" in found[0]


def test_an_exception_inside_a_check_becomes_an_error_naming_the_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(refs._Checker, "check_step", broken)
    obj = flow(
        job("a", outputs=[{"name": "v"}]),
        job("b", "a", inputs=[{"name": "X", "value": "{{ steps.a.outputs.nope }}"}]),
    )
    assert errors(obj) == [
        "spec: references could not be checked: RecursionError: maximum recursion depth exceeded"
    ]
