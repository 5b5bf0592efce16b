"""Registering the notifier on the Manager: a queue of flow keys fed by the JobFlow informer
(every add, and every update that changed what a notification can be about — the phase, the
run, which steps wait or failed, the records — or the notifications), and its workers as a
leader-only runnable; the HTTP session is closed with the manager.

The handlers read the raw objects only (no parsing), so flows whose steps merely progress cost
the notifier nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zenflow.controller.notifications.notifier import Notifier
from zenflow.controller.notifications.sources import DefaultNotifications, SecretUrls
from zenflow.kube.transport import Transport
from zenflow.machinery.controller import Controller
from zenflow.machinery.informer import Informer
from zenflow.machinery.manager import Manager
from zenflow.machinery.ratelimiting import RateLimitingQueue
from zenflow.machinery.reconcile import ObjectKey, key_of

if TYPE_CHECKING:
    from kubernetes_asyncio import client

NOTIFICATIONS_CONTROLLER = "notifications"
WORKERS = 2


@dataclass(frozen=True, slots=True)
class NotificationController:
    queue: RateLimitingQueue[ObjectKey]
    notifier: Notifier
    controller: Controller


def notable(obj: dict[str, Any]) -> tuple[Any, ...]:
    """What the due notifications depend on, read off the raw object."""
    status = obj.get("status") or {}
    steps = status.get("steps") or []
    return (
        status.get("phase"),
        status.get("startTime"),
        tuple(s.get("name") for s in steps if s.get("phase") in ("Waiting", "Failed")),
        tuple((r.get("key"), r.get("state")) for r in status.get("notifications") or []),
    )


def setup_notifications(
    manager: Manager,
    *,
    flows: Informer,
    api_client: client.ApiClient | Transport,
    defaults_configmap: str | None,
) -> NotificationController:
    """Add the notifier to ``manager``; ``defaults_configmap`` is ``NAMESPACE/NAME`` or None."""
    queue: RateLimitingQueue[ObjectKey] = RateLimitingQueue(
        NOTIFICATIONS_CONTROLLER, metrics=manager.metrics.queue(NOTIFICATIONS_CONTROLLER)
    )
    defaults = DefaultNotifications(api_client, defaults_configmap)
    notifier = Notifier(
        flows=flows,
        api=api_client,
        secrets=SecretUrls(api_client),
        defaults=defaults,
        registry=manager.registry,
    )

    def concerns(obj: dict[str, Any]) -> bool:
        return bool(defaults.name or (obj.get("spec") or {}).get("notifications"))

    def on_add(obj: dict[str, Any]) -> None:
        if concerns(obj):
            queue.add(key_of(obj))

    def on_update(old: dict[str, Any], new: dict[str, Any]) -> None:
        if concerns(new) and (
            notable(old) != notable(new)
            or (old.get("spec") or {}).get("notifications")
            != (new.get("spec") or {}).get("notifications")
        ):
            queue.add(key_of(new))

    def on_delete(obj: dict[str, Any]) -> None:
        if concerns(obj):
            queue.add(key_of(obj))

    flows.add_event_handler(on_add, on_update, on_delete)
    controller = Controller(
        NOTIFICATIONS_CONTROLLER,
        queue,
        notifier.reconcile,
        workers=WORKERS,
        metrics=manager.metrics,
    )
    manager.add_runnable(controller, needs_leader=True)
    manager.add_cleanup(notifier.close)
    return NotificationController(queue, notifier, controller)
