"""The notification limits live with every other limit in ``zenflow.api.limits`` and are the
ones the models (and so the CRD schema and the validator) enforce: at most MAX_NOTIFICATIONS per
flow, retry.limit up to MAX_NOTIFICATION_RETRIES, timeoutSeconds up to
MAX_NOTIFICATION_TIMEOUT_SECONDS — one past each is refused naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from zenflow.api import limits, notification
from zenflow.api.jobflow import JobFlowSpec
from zenflow.api.notification import Notification

HOOK = {"webhook": {"urlFrom": {"secretKeyRef": {"name": "hooks", "key": "url"}}}}


def _notification(name: str = "n", **extra: Any) -> dict[str, Any]:
    return {"name": name, "events": ["Failed"], **HOOK, **extra}


def test_the_notification_module_defines_no_limit_of_its_own() -> None:
    assert [n for n in vars(notification) if n.startswith("MAX_")] == []


def test_retry_and_timeout_caps_are_the_limits() -> None:
    at_cap = _notification(
        timeoutSeconds=limits.MAX_NOTIFICATION_TIMEOUT_SECONDS,
        retry={"limit": limits.MAX_NOTIFICATION_RETRIES},
    )
    Notification.model_validate(at_cap)
    over_retries = _notification(retry={"limit": limits.MAX_NOTIFICATION_RETRIES + 1})
    with pytest.raises(ValidationError, match=r"retry\.limit"):
        Notification.model_validate(over_retries)
    over_timeout = _notification(timeoutSeconds=limits.MAX_NOTIFICATION_TIMEOUT_SECONDS + 1)
    with pytest.raises(ValidationError, match="timeoutSeconds"):
        Notification.model_validate(over_timeout)


def test_a_flow_holds_at_most_max_notifications() -> None:
    def spec(count: int) -> dict[str, Any]:
        notes = [_notification(f"n{i}") for i in range(count)]
        return {"steps": [{"name": "a", "run": {"image": "busybox"}}], "notifications": notes}

    JobFlowSpec.model_validate(spec(limits.MAX_NOTIFICATIONS))
    with pytest.raises(ValidationError, match="notifications"):
        JobFlowSpec.model_validate(spec(limits.MAX_NOTIFICATIONS + 1))
