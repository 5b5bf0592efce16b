"""Pod signals (zenflow.controller.podsignals) on an informer fed by hand: a succeeded pod of a
cached unfinished Job is kept once and signalled with the Job; a success for a final Job is not
kept; one seen before the Job is cached waits and is promoted by the Job's add event (bounded);
the entry goes when the Job turns final or is deleted; pods that did not succeed, were deleted
or belong to no Job are ignored."""

from __future__ import annotations

from typing import Any

from tests.machinery.fakes import ScriptedListerWatcher
from zenflow.api.formats import parse_time
from zenflow.controller import podsignals
from zenflow.controller.podsignals import PodSignals
from zenflow.machinery.informer import Informer


def job(name: str, uid: str, rv: str = "1", *conditions: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": uid, "resourceVersion": rv},
        "spec": {"completions": 1},
        "status": {"conditions": [{"type": c, "status": "True"} for c in conditions]},
    }


def pod(job_name: str, job_uid: str, phase: str = "Succeeded", **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"{job_name}-x",
            "namespace": "ns",
            "resourceVersion": "9",
            "ownerReferences": [
                {"kind": "Job", "name": job_name, "uid": job_uid, "controller": True}
            ],
            **meta,
        },
        "status": {
            "phase": phase,
            "containerStatuses": [
                {"state": {"terminated": {"exitCode": 0, "finishedAt": "2026-01-01T00:00:05Z"}}}
            ],
        },
    }


class Rig:
    def __init__(self) -> None:
        self.jobs = Informer(ScriptedListerWatcher(resource="jobs"))
        self.signalled: list[str] = []
        self.signals = PodSignals(
            jobs=self.jobs, on_signal=lambda j: self.signalled.append(j["metadata"]["name"])
        )


def test_a_succeeded_pod_of_an_unfinished_job_is_kept_and_signalled_once() -> None:
    rig = Rig()
    rig.jobs.apply("ADDED", job("a", "ua"))
    rig.signals.handle("ADDED", pod("a", "ua"))
    rig.signals.handle("MODIFIED", pod("a", "ua"))  # the finalizer removed: no second signal
    assert rig.signalled == ["a"]
    found = rig.signals.of(job("a", "ua"))
    assert found is not None
    assert found.finished == parse_time("2026-01-01T00:00:05Z")
    assert (len(rig.signals), rig.signals.signals) == (1, 1)


def test_a_pod_read_as_metadata_only_is_dated_when_seen() -> None:
    """The watch reads pods' metadata only: the success is dated by the injected clock."""
    seen = parse_time("2026-01-01T00:00:07Z")
    assert seen is not None
    jobs = Informer(ScriptedListerWatcher(resource="jobs"))
    signals = PodSignals(jobs=jobs, now=lambda: seen)
    jobs.apply("ADDED", job("a", "ua"))
    signals.handle("ADDED", {"metadata": pod("a", "ua")["metadata"]})
    found = signals.of(job("a", "ua"))
    assert found is not None
    assert found.finished == seen


def test_the_entry_goes_when_the_job_is_final_or_deleted() -> None:
    rig = Rig()
    for name, uid in (("a", "ua"), ("b", "ub")):
        rig.jobs.apply("ADDED", job(name, uid))
        rig.signals.handle("ADDED", pod(name, uid))
    rig.jobs.apply("MODIFIED", job("a", "ua", "2", "SuccessCriteriaMet"))
    assert rig.signals.of(job("a", "ua")) is not None  # interim: still in flight
    rig.jobs.apply("MODIFIED", job("a", "ua", "3", "SuccessCriteriaMet", "Complete"))
    rig.jobs.apply("DELETED", job("b", "ub", "2"))
    assert len(rig.signals) == 0


def test_a_success_for_a_final_job_is_not_kept() -> None:
    rig = Rig()
    rig.jobs.apply("ADDED", job("a", "ua", "1", "Complete"))
    rig.signals.handle("ADDED", pod("a", "ua"))
    assert (len(rig.signals), rig.signalled) == (0, [])


def test_a_success_seen_before_its_job_waits_for_the_job() -> None:
    rig = Rig()
    rig.signals.handle("ADDED", pod("a", "ua"))
    assert (len(rig.signals), rig.signalled) == (0, [])
    rig.jobs.apply("ADDED", job("a", "other-uid"))  # a namesake: not this pod's Job
    assert rig.signalled == []
    rig.jobs.apply("DELETED", job("a", "other-uid"))
    rig.jobs.apply("ADDED", job("a", "ua"))
    assert rig.signalled == ["a"]
    assert rig.signals.of(job("a", "ua")) is not None


def test_waiting_successes_are_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(podsignals, "MAX_UNMATCHED", 2)
    rig = Rig()
    for i in range(3):
        rig.signals.handle("ADDED", pod(f"j{i}", f"u{i}"))
    for i in range(3):
        rig.jobs.apply("ADDED", job(f"j{i}", f"u{i}"))
    assert rig.signalled == ["j1", "j2"]  # the oldest was dropped


def test_other_pods_are_ignored() -> None:
    rig = Rig()
    rig.jobs.apply("ADDED", job("a", "ua"))
    rig.signals.handle("ADDED", pod("a", "ua", phase="Failed"))
    rig.signals.handle("ADDED", pod("a", "ua", deletionTimestamp="2026-01-01T00:00:06Z"))
    rig.signals.handle("ADDED", pod("a", "ua", ownerReferences=[]))
    rig.signals.handle("DELETED", pod("a", "ua"))
    assert (len(rig.signals), rig.signalled) == (0, [])
