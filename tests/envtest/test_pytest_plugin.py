"""Helpers of the envtest pytest plugin (zenflow.envtest.pytest_plugin) that need no cluster.

Aspects: namespace names derived from test names are valid, distinct DNS labels whatever the
test name holds (parametrize ids, upper case, long names).
"""

from __future__ import annotations

import re

import pytest

from zenflow.envtest.pytest_plugin import namespace_name

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize(
    "test_name",
    [
        pytest.param("test_simple", id="simple"),
        pytest.param("test_cases[exit-3-Failed]", id="parametrized"),
        pytest.param("Test_UPPER__and__under", id="upper"),
        pytest.param("test_" + "x" * 200, id="long"),
        pytest.param("[]", id="only-punctuation"),
    ],
)
def test_namespace_names_are_dns_labels(test_name: str) -> None:
    name = namespace_name(test_name)
    assert DNS_LABEL.match(name), name
    assert len(name) <= 63
    assert name.startswith("t-")


def test_namespace_names_are_distinct() -> None:
    assert len({namespace_name("test_same") for _ in range(50)}) == 50
