"""Matrix steps in the planner (zenflow.core.planning.matrix: shards and plan_matrix_step).

Aspects: one Job per combination named with the shard index and labelled with it, {{ matrix.k }}
substituted; dependents wait for every shard; maxParallel caps running shards; a failed shard
fails the step once all are terminal, with failFast skipping shards not started; per-shard
retries; a matrix from an upstream output list; an empty expansion succeeds.
"""

from __future__ import annotations

from typing import Any

from tests.core.planning.driver import Driver, job, make_flow, record


def _matrix_step(matrix: dict[str, Any], *deps: str, **extra: Any) -> dict[str, Any]:
    step = job("m", *deps, matrix=matrix, **extra)
    step["run"]["args"] = ["{{ matrix.region }}"]
    return step


def test_one_job_per_combination_and_dependents_wait_for_all() -> None:
    d = Driver(make_flow(_matrix_step({"values": {"region": ["us", "eu"]}}), job("after", "m")))
    first = d.step()
    names = [c.manifest["metadata"]["name"] for c in first.creates]
    assert names == ["f-m-0-1", "f-m-1-1"]
    args = [c.manifest["spec"]["template"]["spec"]["containers"][0]["args"] for c in first.creates]
    assert args == [["us"], ["eu"]]
    assert first.creates[1].manifest["metadata"]["labels"]["workflow.zen.io/shard"] == "1"
    d.set(record("m", "Succeeded", shard=0))
    assert d.step().creates == []
    assert d.step_status("m").phase == "Running"
    d.set(record("m", "Succeeded", shard=1))
    assert [c.step for c in d.step().creates] == ["after"]
    assert d.step_status("m").phase == "Succeeded"


def test_max_parallel_caps_running_shards() -> None:
    d = Driver(make_flow(_matrix_step({"values": {"region": ["a", "b", "c"]}, "maxParallel": 1})))
    assert len(d.step().creates) == 1
    d.set(record("m", "Succeeded", shard=0))
    assert [c.manifest["metadata"]["name"] for c in d.step().creates] == ["f-m-1-1"]


def test_a_failed_shard_fails_the_step_and_fail_fast_skips_the_rest() -> None:
    d = Driver(make_flow(_matrix_step({"values": {"region": ["a", "b", "c"]}, "maxParallel": 2})))
    d.step()
    d.set(record("m", "Failed", shard=0))
    assert d.step().creates == []
    shards = {s.index: s.phase for s in d.step_status("m").shards}
    assert shards == {0: "Failed", 1: "Running", 2: "Skipped"}
    d.set(record("m", "Succeeded", shard=1))
    d.step()
    st = d.step_status("m")
    assert (st.phase, st.reason) == ("Failed", "ShardFailed")
    assert d.status().phase == "Failed"


def test_shards_retry_on_their_own() -> None:
    d = Driver(
        make_flow(_matrix_step({"values": {"region": ["a", "b"]}}, retryPolicy={"limit": 1}))
    )
    d.step()
    d.set(record("m", "Failed", shard=1), record("m", "Succeeded", shard=0))
    retry = d.step()
    assert [c.manifest["metadata"]["name"] for c in retry.creates] == ["f-m-1-2"]
    d.set(record("m", "Succeeded", shard=1, attempt=2, retry_count=1))
    d.step()
    assert d.step_status("m").phase == "Succeeded"
    assert d.step_status("m").retry_count == 1


def test_matrix_from_an_upstream_output_list() -> None:
    step = job("m", "split", matrix={"from": {"part": "{{ steps.split.outputs.parts }}"}})
    step["run"]["args"] = ["{{ matrix.part }}"]
    d = Driver(make_flow(job("split", outputs=[{"name": "parts"}]), step))
    d.step()
    d.set(record("split", "Succeeded"))
    result = d.step(outputs={"split": {"parts": '["p1", "p2", "p3"]'}})
    args = [c.manifest["spec"]["template"]["spec"]["containers"][0]["args"] for c in result.creates]
    assert args == [["p1"], ["p2"], ["p3"]]


def test_an_empty_expansion_succeeds() -> None:
    d = Driver(
        make_flow(
            job("split", outputs=[{"name": "parts"}]),
            job("m", "split", matrix={"from": {"p": "{{ steps.split.outputs.parts }}"}}),
        )
    )
    d.step()
    d.set(record("split", "Succeeded"))
    assert d.step(outputs={"split": {"parts": "[]"}}).creates == []
    assert d.step_status("m").phase == "Succeeded"
