"""Warm-up before the first review (zenflow.webhook.warmup and its users).

Aspects: the warm-up objects (a JobFlow and a CronJobFlow) are valid; the template checker of
the server's own process and the thread reviews each load the validator's lazily loaded CEL
compiler when they start (in a fresh interpreter, where nothing loaded it before), so the first
review that needs it does not pay for it; the server warms its template checker up before it
listens.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.webhook.test_admission import fake_validate
from tests.webhook.test_server import HOSTS, write_bundle
from zenflow.certs import CertBundle, renew
from zenflow.core.validation.validator import validate_object
from zenflow.webhook.certstore import FileCertSource
from zenflow.webhook.server import WebhookServer
from zenflow.webhook.templates import TemplateChecker
from zenflow.webhook.warmup import WARM_UP_OBJECTS

# Run in a fresh interpreter: prints whether the CEL parser was built before and after ``start``.
PROBE = """
import asyncio
from celpy.celparser import CELParser
{setup}
before = CELParser.CEL_PARSER is not None
asyncio.run(start())
print(before, CELParser.CEL_PARSER is not None)
"""


def _cel_parser_built(setup: str) -> str:
    code = PROBE.format(setup=textwrap.dedent(setup))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_warm_up_objects_are_valid_and_of_each_kind() -> None:
    assert [validate_object(obj).ok for obj in WARM_UP_OBJECTS] == [True, True]
    assert {obj["kind"] for obj in WARM_UP_OBJECTS} == {"JobFlow", "CronJobFlow"}


def test_template_checker_warm_up_loads_the_cel_compiler() -> None:
    setup = """
        from zenflow.webhook.templates import TemplateChecker

        async def start():
            await TemplateChecker(None).warm_up()  # reads no template: no client needed
    """
    assert _cel_parser_built(setup) == "False True"


def test_thread_reviews_load_the_cel_compiler_when_they_start() -> None:
    setup = """
        from zenflow.core.validation.validator import validate_object
        from zenflow.webhook.inline import ThreadReviews

        async def start():
            reviews = ThreadReviews(validate_object)
            await reviews.start()
            await reviews.stop()
    """
    assert _cel_parser_built(setup) == "False True"


@pytest.fixture
def bundle() -> CertBundle:
    return renew(None, hosts=HOSTS, now=dt.datetime.now(dt.UTC))


class _RecordingChecker(TemplateChecker):
    def __init__(self) -> None:  # no client: the server is never asked to review here
        self.warmed_up_before_listening: bool | None = None
        self.server: WebhookServer | None = None

    async def warm_up(self) -> None:
        assert self.server is not None
        self.warmed_up_before_listening = not self.server.ready


async def test_server_warms_its_template_checker_up_before_listening(
    tmp_path: Path, bundle: CertBundle
) -> None:
    write_bundle(tmp_path, bundle)
    checker = _RecordingChecker()
    server = WebhookServer(
        source=FileCertSource(tmp_path),
        validate=fake_validate,
        templates=checker,
        host="127.0.0.1",
        port=0,
        registry=CollectorRegistry(),
    )
    checker.server = server
    await server.start()
    try:
        assert server.ready
        assert checker.warmed_up_before_listening is True
    finally:
        await server.stop()
