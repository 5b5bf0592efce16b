"""pytest fixtures for tests against the real local control plane.

Register with ``pytest_plugins = ["zenflow.envtest.pytest_plugin"]`` in a conftest.py. One control
plane (with its node agent executing pods as local processes; pods annotated per
``zenflow.envtest.nodeagent.spec`` complete without running anything) serves the whole session;
each test gets its own namespace. The CRDs in the repository's ``crds/`` directory are applied
when it holds YAML files, before kube-controller-manager starts (so its garbage collector
follows owner references to them from the start). Only tests that request these fixtures
start a control plane, and such tests are marked ``integration`` automatically, so
``pytest -m "not integration"`` never starts one. The binaries are ensured (built if need be)
once collection is done and before any integration test runs; if they cannot be had, tests
using ``control_plane`` fail with the error saying what to install or set.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from kubernetes_asyncio import client

from zenflow.envtest.binaries import BinariesError, ensure_binaries
from zenflow.envtest.controlplane import ControlPlane
from zenflow.kube.client import new_api_client

_FIXTURES = frozenset({"control_plane", "kube_config", "api_client", "namespace"})
_NAMESPACE_READY_TIMEOUT_S = 30.0
_BINARIES_ERROR = pytest.StashKey[BinariesError]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests using the control plane ``integration`` before ``-m`` deselects anything."""
    for item in items:
        if _FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the binaries (minutes, once per machine) before any integration test runs, so the
    build is not counted against a test's timeout; a failure is raised by ``control_plane``."""
    if not any(item.get_closest_marker("integration") for item in session.items):
        return
    capture = session.config.pluginmanager.getplugin("capturemanager")
    try:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            ensure_binaries()
    except BinariesError as exc:
        session.config.stash[_BINARIES_ERROR] = exc


@pytest.fixture(scope="session")
def control_plane(pytestconfig: pytest.Config) -> Iterator[ControlPlane]:
    """The session's control plane: etcd, kube-apiserver, kube-controller-manager, node agent."""
    error = pytestconfig.stash.get(_BINARIES_ERROR, None)
    if error is not None:
        raise error
    plane = ControlPlane(
        node_agent=True, node_agent_mode="exec", crds_dir=pytestconfig.rootpath / "crds"
    )
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kube_config(control_plane: ControlPlane) -> client.Configuration:
    """A kubernetes_asyncio Configuration for the admin user (system:masters)."""
    return await control_plane.load_client_configuration()


@pytest_asyncio.fixture(loop_scope="session")
async def api_client(kube_config: client.Configuration) -> AsyncIterator[client.ApiClient]:
    """An admin ApiClient, closed after the test."""
    api = new_api_client(kube_config)
    try:
        yield api
    finally:
        await api.close()


def namespace_name(test_name: str) -> str:
    """A fresh DNS-label namespace name derived from the test's name."""
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:40].rstrip("-")
    return f"t-{slug}-{secrets.token_hex(3)}"


@pytest_asyncio.fixture(loop_scope="session")
async def namespace(
    api_client: client.ApiClient, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """A new namespace, usable at once (its default service account exists); deleted after."""
    core = client.CoreV1Api(api_client)
    name = namespace_name(request.node.name)
    await core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(name=name, labels={"zenflow.io/test": "true"})
        )
    )
    try:
        await _wait_default_service_account(core, name)
        yield name
    finally:
        try:
            await core.delete_namespace(name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise


async def _wait_default_service_account(core: client.CoreV1Api, namespace: str) -> None:
    # Pods are refused until the service-account controller has created "default".
    async with asyncio.timeout(_NAMESPACE_READY_TIMEOUT_S):
        while True:
            try:
                await core.read_namespaced_service_account("default", namespace)
                return
            except client.ApiException as exc:
                if exc.status != 404:
                    raise
            await asyncio.sleep(0.05)
