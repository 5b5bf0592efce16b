"""Who created a flow (zenflow.webhook.creator) and the mutating answer (zenflow.webhook.mutation).

Aspects: on CREATE the annotation must name the requester (absent is fine for the validating
path) and the mutating path sets it, overwriting a forged value, whatever the object's metadata
looks like; once stored it can neither change nor be dropped (the mutating path puts it back);
an object stored without it gets none retroactively except the requester's own name; the
mutating answer is an allowed AdmissionReview whose JSON Patch, applied, gives the wanted
annotations; non-reviews get a 4xx and nothing raises.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.webhook.test_admission import GOOD, flow, review
from zenflow.webhook.creator import ANNOTATION_CREATED_BY, check_created_by, created_by_patch
from zenflow.webhook.mutation import handle_mutation

KEY = ANNOTATION_CREATED_BY


def obj(annotations: dict[str, str] | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "f"}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {"metadata": metadata, "spec": {}}


def apply_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """The subset of RFC 6902 the creator patches use: "add" to an object member."""
    doc = json.loads(json.dumps(doc))
    for op in ops:
        assert op["op"] == "add"
        *parents, last = [
            p.replace("~1", "/").replace("~0", "~") for p in op["path"][1:].split("/")
        ]
        target = doc
        for part in parents:
            target = target[part]
        target[last] = op["value"]
    return doc


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        pytest.param(None, obj(None), "", id="create-without"),
        pytest.param(None, obj({KEY: "alice"}), "", id="create-self"),
        pytest.param(None, obj({KEY: "mallory"}), "must be 'alice', not 'mallory'", id="forged"),
        pytest.param(obj({KEY: "bob"}), obj({KEY: "bob"}), "", id="update-kept"),
        pytest.param(obj({KEY: "bob"}), obj({KEY: "alice"}), "may not change", id="changed"),
        pytest.param(obj({KEY: "bob"}), obj({}), "may not change", id="dropped"),
        pytest.param(obj(None), obj({KEY: "alice"}), "", id="late-self"),
        pytest.param(obj(None), obj({KEY: "bob"}), "not 'bob'", id="late-forged"),
    ],
)
def test_check_created_by(old: dict[str, Any] | None, new: dict[str, Any], problem: str) -> None:
    problems = check_created_by(old=old, new=new, username="alice")
    if not problem:
        assert problems == []
    else:
        (message,) = problems
        assert message.startswith(f"metadata.annotations[{KEY}]: ")
        assert problem in message


@pytest.mark.parametrize(
    ("old", "new", "want"),
    [
        pytest.param(None, obj(None), "alice", id="create-no-annotations"),
        pytest.param(None, obj({"x": "y"}), "alice", id="create-other-annotations"),
        pytest.param(None, obj({KEY: "mallory"}), "alice", id="create-forged"),
        pytest.param(None, {"spec": {}}, "alice", id="create-no-metadata"),
        pytest.param(obj({KEY: "bob"}), obj({}), "bob", id="update-dropped"),
        pytest.param(obj({KEY: "bob"}), obj({KEY: "eve"}), "bob", id="update-changed"),
    ],
)
def test_patch_sets_or_restores(old: dict[str, Any] | None, new: dict[str, Any], want: str) -> None:
    patched = apply_patch(new, created_by_patch(old=old, new=new, username="alice"))
    assert patched["metadata"]["annotations"][KEY] == want
    if "x" in (new.get("metadata", {}).get("annotations") or {}):
        assert patched["metadata"]["annotations"]["x"] == "y"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param(None, obj({KEY: "alice"}), id="create-already-right"),
        pytest.param(obj({KEY: "bob"}), obj({KEY: "bob"}), id="update-unchanged"),
        pytest.param(obj(None), obj(None), id="stored-without"),
    ],
)
def test_no_patch_when_nothing_to_do(old: dict[str, Any] | None, new: dict[str, Any]) -> None:
    assert created_by_patch(old=old, new=new, username="alice") == []


def test_mutating_answer_carries_the_patch() -> None:
    new = flow(GOOD, annotations={KEY: "mallory"})
    out = handle_mutation(review(new, user="alice"))
    assert out.result == "allowed"
    response = out.body["response"]
    assert (response["uid"], response["allowed"], response["patchType"]) == (
        "1234-abcd",
        True,
        "JSONPatch",
    )
    ops = json.loads(base64.b64decode(response["patch"]))
    assert apply_patch(new, ops)["metadata"]["annotations"][KEY] == "alice"


def test_mutating_answer_without_patch_and_for_other_operations() -> None:
    unchanged = flow(GOOD, annotations={KEY: "alice"})
    assert handle_mutation(review(unchanged, user="alice")).body["response"] == {
        "uid": "1234-abcd",
        "allowed": True,
    }
    deleted = handle_mutation(review(flow(GOOD), operation="DELETE", old=flow(GOOD)))
    assert deleted.body["response"] == {"uid": "1234-abcd", "allowed": True}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{", id="truncated"),
        pytest.param(b"[" * 20_000 + b"]" * 20_000, id="deep"),
        pytest.param(review(flow(GOOD), kind="Pod", group=""), id="foreign"),
    ],
)
def test_mutating_path_refuses_non_reviews_with_4xx(body: bytes) -> None:
    out = handle_mutation(body)
    assert 400 <= out.http_status < 500
    assert out.body["kind"] == "Status"
