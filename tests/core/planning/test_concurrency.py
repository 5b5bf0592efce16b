"""Concurrency groups and policies (zenflow.core.planning.concurrency): the group of a flow; Allow,
Forbid (FIFO queue behind the running flow), Replace (cancel on a newer Replace flow; the newer
waits), started flows never queue, ties ordered by name."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.planning.driver import at
from zenflow.api.constants import LABEL_CONCURRENCY_GROUP
from zenflow.core.observed import PeerFlow
from zenflow.core.planning.concurrency import concurrency_group, decide_concurrency


@pytest.mark.parametrize(
    ("meta", "group"),
    [
        pytest.param(
            {"labels": {LABEL_CONCURRENCY_GROUP: "g"}, "generateName": "x-"}, "g", id="label"
        ),
        pytest.param({"generateName": "nightly-"}, "nightly-", id="generate-name"),
        pytest.param({"name": "alone"}, None, id="alone"),
    ],
)
def test_concurrency_group(meta: dict[str, Any], group: str | None) -> None:
    assert concurrency_group(meta) == group


def peer(name: str, seconds: float, policy: str = "Forbid", **kw: bool) -> PeerFlow:
    return PeerFlow(
        name=name,
        created=at(seconds),
        policy=policy,
        finished=kw.get("finished", False),
        started=kw.get("started", True),
    )


@pytest.mark.parametrize(
    ("policy", "started", "peers", "replaced_by", "queued_behind"),
    [
        pytest.param("Allow", False, [peer("old", -1)], None, None, id="allow"),
        pytest.param("Forbid", False, [peer("old", -1)], None, "old", id="forbid-waits"),
        pytest.param("Forbid", False, [peer("old", -1, finished=True)], None, None, id="forbid-go"),
        pytest.param("Forbid", True, [peer("old", -1)], None, None, id="started-never-queues"),
        pytest.param(
            "Forbid",
            False,
            [peer("waiting", -1, started=False), peer("running", -2)],
            None,
            "running",
            id="names-the-running-one",
        ),
        pytest.param("Forbid", False, [peer("newer", 5)], None, None, id="newer-does-not-block"),
        pytest.param("Allow", True, [peer("newer", 5, "Replace")], "newer", None, id="replaced"),
        pytest.param(
            "Allow",
            True,
            [peer("newer", 5, "Replace", finished=True)],
            None,
            None,
            id="finished-replacer-ignored",
        ),
        pytest.param(
            "Replace", False, [peer("old", -1, "Allow")], None, "old", id="replacer-waits"
        ),
        pytest.param("Forbid", False, [peer("a", 0)], None, "a", id="same-second-by-name"),
    ],
)
def test_decide_concurrency(
    policy: str,
    started: bool,
    peers: list[PeerFlow],
    replaced_by: str | None,
    queued_behind: str | None,
) -> None:
    decision = decide_concurrency(
        name="me", created=at(0), policy=policy, started=started, peers=peers
    )
    assert (decision.replaced_by, decision.queued_behind) == (replaced_by, queued_behind)
