"""Metadata-only lists and watches (``KubeListerWatcher(metadata_only=True)``), on a fake
transport; the sharder's JobFlow cache uses them (tests/controller/sharding run them against the
real API server).

Aspects: the list asks for ``PartialObjectMetadataList`` and the watch for
``PartialObjectMetadata`` in the Accept header; an empty metadata list (``"items": null``, as
the API server encodes it) is an empty list, not a malformed answer; by default both ask for
plain JSON.
"""

from __future__ import annotations

from tests.support.fake_transport import FakeTransport, reply
from zenflow.kube.listwatch import PARTIAL_METADATA, KubeListerWatcher, decode_list

PATH = "/apis/workflow.zen.io/v1alpha1/namespaces/ns/jobflows"


def lister(fake: FakeTransport, *, metadata_only: bool) -> KubeListerWatcher:
    return KubeListerWatcher(
        fake,
        group="workflow.zen.io",
        version="v1alpha1",
        plural="jobflows",
        namespace="ns",
        metadata_only=metadata_only,
    )


async def test_a_metadata_only_list_asks_for_partial_object_metadata() -> None:
    fake = FakeTransport()
    page = {
        "kind": "PartialObjectMetadataList",
        "metadata": {"resourceVersion": "5"},
        "items": [{"kind": "PartialObjectMetadata", "metadata": {"name": "a"}}],
    }
    fake.answer("GET", PATH, reply(page))
    items, version = await lister(fake, metadata_only=True).list()
    assert (items, version) == (page["items"], "5")
    (sent,) = fake.sent("GET", PATH)
    assert sent.accept == f"{PARTIAL_METADATA};as=PartialObjectMetadataList"


async def test_a_plain_list_asks_for_json() -> None:
    fake = FakeTransport()
    fake.answer("GET", PATH, reply({"metadata": {"resourceVersion": "1"}, "items": []}))
    await lister(fake, metadata_only=False).list()
    (sent,) = fake.sent("GET", PATH)
    assert sent.accept == "application/json"


async def test_a_metadata_only_watch_asks_for_partial_object_metadata() -> None:
    fake = FakeTransport()
    fake.answer("GET", PATH, [b'{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n'])
    watch = lister(fake, metadata_only=True).watch("5", timeout_seconds=60, allow_bookmarks=True)
    events = [event async for event in watch]
    assert events == [{"type": "ADDED", "object": {"metadata": {"name": "a"}}}]
    assert fake.requests[-1].accept == f"{PARTIAL_METADATA};as=PartialObjectMetadata"


def test_an_empty_metadata_list_is_empty() -> None:
    body = b'{"kind":"PartialObjectMetadataList","metadata":{"resourceVersion":"9"},"items":null}'
    assert decode_list(body, max_depth=64) == ([], {"resourceVersion": "9"})
    assert decode_list(b'{"kind":"Status"}', max_depth=64) == (None, None)
