"""The node agent's log API over real TLS (``nodeagent.logserver``), as the API server calls it.

Aspects: the API server's client certificate gets the log; a certificate of the right CA with
another name gets 403; a certificate of another CA, or none, fails the handshake; a container
without a log yet and a bad query get 400 with the kubelet's message; a followed log streams
a write as it happens and ends when the instance ends.
"""

from __future__ import annotations

import datetime as dt
import functools
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from tests.support.wait import eventually
from zenflow.certs import generate_ca, generate_client, generate_serving
from zenflow.envtest.nodeagent.logs import LogStore
from zenflow.envtest.nodeagent.logserver import DEFAULT_CLIENT_NAME, LogServer, server_ssl_context

NOW = dt.datetime.now(dt.UTC)


@dataclass
class Served:
    server: LogServer
    store: LogStore
    ca: Path
    certs: Path

    def client(self, name: str) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(self.certs / f"{name}.crt", self.certs / f"{name}.key")
        return context

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.server.port}{path}"


def _write(directory: Path, name: str, pair: tuple[bytes, bytes]) -> None:
    (directory / f"{name}.crt").write_bytes(pair[0])
    (directory / f"{name}.key").write_bytes(pair[1])


@pytest_asyncio.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    ca, ca_key = generate_ca(now=NOW)
    other_ca, other_key = generate_ca(now=NOW)
    (tmp_path / "ca.crt").write_bytes(ca)
    _write(
        tmp_path,
        "server",
        generate_serving(ca_cert_pem=ca, ca_key_pem=ca_key, hosts=["127.0.0.1"], now=NOW),
    )
    for name, (issuer, issuer_key), common_name in (
        ("apiserver", (ca, ca_key), DEFAULT_CLIENT_NAME),
        ("mallory", (ca, ca_key), "mallory"),
        ("stranger", (other_ca, other_key), DEFAULT_CLIENT_NAME),
    ):
        pair = generate_client(
            ca_cert_pem=issuer, ca_key_pem=issuer_key, common_name=common_name, now=NOW
        )
        _write(tmp_path, name, pair)
    store = LogStore(tmp_path / "pods")
    context = server_ssl_context(
        cert_file=tmp_path / "server.crt",
        key_file=tmp_path / "server.key",
        client_ca_file=tmp_path / "ca.crt",
    )
    server = LogServer(store=store, host="127.0.0.1", port=0, ssl_context=context)
    await server.start()
    try:
        yield Served(server, store, tmp_path / "ca.crt", tmp_path)
    finally:
        await server.stop()


async def _get(served: Served, path: str, *, client: str = "apiserver") -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(served.url(path), ssl=served.client(client)) as response,
    ):
        return response.status, await response.text()


async def test_the_api_server_reads_a_log(served: Served) -> None:
    log = served.store.open(namespace="ns", pod="p", uid="u", container="c", instance=0)
    log.write("stdout", b"hello\n")
    log.finish()
    assert await _get(served, "/containerLogs/ns/p/c") == (200, "hello\n")


async def test_other_clients_are_refused(served: Served) -> None:
    status, text = await _get(served, "/containerLogs/ns/p/c", client="mallory")
    assert (status, text) == (
        403,
        "Forbidden (user=mallory, verb=get, resource=nodes, subresource=proxy)\n",
    )
    with pytest.raises(aiohttp.ClientError):
        await _get(served, "/containerLogs/ns/p/c", client="stranger")
    async with aiohttp.ClientSession() as session:
        no_cert = ssl.create_default_context(cafile=str(served.ca))
        with pytest.raises(aiohttp.ClientError):
            async with session.get(served.url("/containerLogs/ns/p/c"), ssl=no_cert) as response:
                await response.read()


async def test_errors_carry_the_kubelets_messages(served: Served) -> None:
    assert await _get(served, "/containerLogs/ns/p/c") == (
        400,
        'container "c" in pod "p" is waiting to start: ContainerCreating',
    )
    assert await _get(served, "/containerLogs/ns/p/c?tailLines=-3") == (
        400,
        "tailLines: must be greater than or equal to 0\n",
    )
    status, _ = await _get(served, "/containerLogs/ns/p")
    assert status == 404


async def test_follow_streams_until_the_container_ends(served: Served) -> None:
    log = served.store.open(namespace="ns", pod="p", uid="u", container="c", instance=0)
    log.write("stdout", b"first\n")
    got: list[bytes] = []
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            served.url("/containerLogs/ns/p/c?follow=true"), ssl=served.client("apiserver")
        ) as response,
    ):
        assert response.status == 200
        got.append(await response.content.readline())
        log.write("stdout", b"second\n")
        got.append(await response.content.readline())
        pending = response.content.readline()
        log.finish()
        got.append(await pending)
    assert got == [b"first\n", b"second\n", b""]
    await eventually(functools.partial(_no_live_logs, served.store), what="writer released")


def _no_live_logs(store: LogStore) -> bool:
    try:
        found = store.find(namespace="ns", pod="p", container="c", previous=False)
    except LookupError:
        return False
    return found.live is None
