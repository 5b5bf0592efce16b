"""``lease_elector``: an elector with the settings' namespace and timings whose Lease requests
never outlast the renew deadline, creating the Lease with the labels given (fake transport)."""

from __future__ import annotations

from tests.support.fake_transport import FakeTransport, reply
from zenflow.controller.leases import lease_elector
from zenflow.controller.settings import ControllerSettings
from zenflow.kube.transport import Request

LEASES = "/apis/coordination.k8s.io/v1/namespaces/ops/leases"


async def test_elector_takes_the_settings_and_creates_the_labelled_lease() -> None:
    settings = ControllerSettings(
        leader_election_namespace="ops", lease_duration=9.0, renew_deadline=6.0, retry_period=1.0
    )
    api = FakeTransport()
    api.answer("GET", f"{LEASES}/member-a", reply({"kind": "Status", "code": 404}, status=404))

    def created(request: Request, _match: object) -> object:
        return reply({**request.body, "metadata": {**request.body["metadata"], "uid": "u1",
                                                    "resourceVersion": "1"}})  # fmt: skip

    api.route("POST", LEASES, created)  # type: ignore[arg-type]
    elector = lease_elector(
        settings, api, name="member-a", identity="replica-a", labels={"team": "ops"}
    )
    assert (elector.namespace, elector.lease_duration, elector.renew_deadline) == ("ops", 9.0, 6.0)
    assert elector.retry_period == 1.0

    await elector.acquire()

    assert elector.is_leader()
    (create,) = api.sent("POST", LEASES)
    assert create.body["metadata"]["name"] == "member-a"
    assert create.body["metadata"]["labels"] == {"team": "ops"}
    assert create.body["spec"]["holderIdentity"] == "replica-a"
    assert create.body["spec"]["leaseDurationSeconds"] == 9
    for request in api.sent():
        assert request.timeout.total is not None
        assert request.timeout.total <= 6.0
