"""Notifications of a JobFlow (``spec.notifications[]``) and the delivery records the controller
keeps in ``status.notifications``.

A notification names the flow events it is for (``Succeeded``, ``Failed``, ``Waiting`` — a
Manual step waiting for approval —, ``StepFailed``) and one sink: ``webhook`` (an HTTP POST of a
CloudEvent, structured JSON mode) or ``slack`` (a Slack-compatible incoming-webhook body). The
sink's URL is read from a Secret key in the flow's namespace, never written in the spec.

Delivery is at least once: a record (``Delivered``, or ``Failed`` once the retries are spent) is
written to the status after the receiver answered, so a restarted controller sends nothing that
is recorded; an event whose answer came but whose record was not yet written is sent again, with
the same CloudEvent ``id`` (receivers dedupe on it).
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field

from zenflow.api import limits
from zenflow.api.common import ApiModel, Time
from zenflow.api.naming import STEP_NAME_PATTERN
from zenflow.api.step import Backoff

NotificationEvent = Literal["Succeeded", "Failed", "Waiting", "StepFailed"]
NOTIFICATION_EVENTS: Final[tuple[NotificationEvent, ...]] = (
    "Succeeded",
    "Failed",
    "Waiting",
    "StepFailed",
)
DeliveryState = Literal["Delivered", "Failed"]

DEFAULT_TIMEOUT_SECONDS: Final = 10
DEFAULT_RETRY_LIMIT: Final = 5
DEFAULT_BACKOFF: Final = Backoff(type="Exponential", duration="1s", max_duration="1m")


class SecretKeySelector(ApiModel):
    """A key of a Secret in the flow's namespace (the controller-wide defaults: in the
    ConfigMap's namespace)."""

    name: str = Field(description="Secret name.", max_length=253)
    key: str = Field(description="Key in the Secret's data.", max_length=253)


class UrlSource(ApiModel):
    """Where the sink's URL is read from."""

    secret_key_ref: SecretKeySelector = Field(description="The Secret key holding the URL.")


class WebhookSink(ApiModel):
    """POST a CloudEvent (structured mode, application/cloudevents+json) to a URL."""

    url_from: UrlSource = Field(description="The URL, from a Secret.")


class SlackSink(ApiModel):
    """POST a Slack incoming-webhook body ({"text": …}) to a URL."""

    url_from: UrlSource = Field(description="The incoming-webhook URL, from a Secret.")


class NotificationRetry(ApiModel):
    """How often an unanswered or refused delivery (not 2xx) is tried again."""

    limit: int = Field(
        default=DEFAULT_RETRY_LIMIT,
        ge=0,
        le=limits.MAX_NOTIFICATION_RETRIES,
        description="Retries after the first attempt; then the delivery is recorded Failed.",
    )
    backoff: Backoff | None = Field(
        default=None, description="Delay between attempts (default: 1s doubling, at most 1m)."
    )


class Notification(ApiModel):
    """Tell a receiver about flow events."""

    name: str = Field(
        description="Unique name of this notification in the flow.",
        json_schema_extra={"maxLength": limits.MAX_STEP_NAME_LENGTH, "pattern": STEP_NAME_PATTERN},
    )
    events: list[NotificationEvent] = Field(
        min_length=1,
        max_length=len(NOTIFICATION_EVENTS),
        description="Succeeded, Failed (the flow), Waiting (a Manual step waits for approval), "
        "StepFailed (a step failed after its retries).",
    )
    webhook: WebhookSink | None = Field(
        default=None, description="A generic HTTP receiver of CloudEvents."
    )
    slack: SlackSink | None = Field(default=None, description="A Slack incoming webhook.")
    timeout_seconds: int = Field(
        default=DEFAULT_TIMEOUT_SECONDS,
        ge=1,
        le=limits.MAX_NOTIFICATION_TIMEOUT_SECONDS,
        description="Seconds an attempt may take before it counts as failed.",
    )
    retry: NotificationRetry | None = Field(
        default=None, description="Retries of a failed delivery (default: 5, 1s doubling)."
    )

    @property
    def url_from(self) -> UrlSource | None:
        sink = self.webhook or self.slack
        return sink.url_from if sink is not None else None

    @property
    def retry_limit(self) -> int:
        return self.retry.limit if self.retry is not None else DEFAULT_RETRY_LIMIT

    def backoff_seconds(self, retry: int) -> float:
        """Delay before retry number ``retry`` (1 = the first retry)."""
        backoff = self.retry.backoff if self.retry is not None else None
        return (backoff or DEFAULT_BACKOFF).delay_seconds(retry)


class NotificationRecord(ApiModel):
    """A notification the controller is done with: delivered, or given up on."""

    key: str = Field(description="NOTIFICATION/EVENT[/STEP]: what was notified.")
    run: str | None = Field(
        default=None,
        description="status.startTime of the run it belongs to (a retry is a new run).",
    )
    state: DeliveryState = Field(description="Delivered, or Failed after the last retry.")
    time: Time | None = Field(default=None, description="When it was delivered or given up.")
    attempts: int | None = Field(default=None, ge=1, description="Attempts made.")
    message: str | None = Field(default=None, description="Why the last attempt failed.")
