"""Watch event decoding of the node agent's request layer.

Aspects: ordinary events pass through; an ERROR event for an expired resourceVersion (410)
becomes GoneError, any other ERROR a KubeError with its code and message.
"""

from __future__ import annotations

import pytest

from zenflow.envtest.nodeagent.kube import decode_event
from zenflow.errors import GoneError, KubeError


def test_ordinary_event() -> None:
    pod = {"metadata": {"name": "p", "resourceVersion": "7"}}
    assert decode_event({"type": "MODIFIED", "object": pod}, what="watch") == ("MODIFIED", pod)


def test_expired_resource_version_is_gone() -> None:
    status = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}
    with pytest.raises(GoneError, match="410 Expired: too old"):
        decode_event({"type": "ERROR", "object": status}, what="watch pods")


def test_other_error_event() -> None:
    status = {"kind": "Status", "code": 500, "reason": "InternalError", "message": "boom"}
    with pytest.raises(KubeError, match="500 InternalError: boom") as info:
        decode_event({"type": "ERROR", "object": status}, what="watch pods")
    assert not isinstance(info.value, GoneError)
    assert info.value.status == 500
