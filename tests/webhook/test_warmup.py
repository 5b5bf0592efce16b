"""Warm-up before the first review (zenflow.webhook.warmup and its users).

Aspects: the warm-up objects (a JobFlow and a CronJobFlow) are valid; the thread reviews load
the validator's lazily loaded CEL compiler when they start (in a fresh interpreter, where nothing
loaded it before), so the first review that needs it does not pay for it. (Review worker
processes warm up before they report ready: tests/webhook/test_pool.py; flows using templates
are judged where the reviews run: tests/webhook/test_templatejudge.py.)
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from zenflow.core.validation.validator import validate_object
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
