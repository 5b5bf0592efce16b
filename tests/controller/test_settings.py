"""Controller settings: defaults are the client-go/zenflow defaults; flag beats env beats
default; the leader election namespace comes from the pod's service account when present; every
invalid value is refused with a message naming the flag (or the env var it came from)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from zenflow.controller.settings import (
    DEFAULT_LEADER_NAMESPACE,
    ControllerSettings,
    add_settings_arguments,
    settings_from_args,
)
from zenflow.errors import ConfigError

NO_FILE = Path("/nonexistent/namespace")


def _resolve(argv: list[str], env: dict[str, str] | None = None, **kw: Path) -> ControllerSettings:
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    return settings_from_args(
        parser.parse_args(argv), env=env or {}, namespace_file=kw.get("ns_file", NO_FILE)
    )


def test_defaults() -> None:
    s = _resolve([])
    assert s.namespace is None
    assert s.leader_election is True
    assert s.leader_election_namespace == DEFAULT_LEADER_NAMESPACE
    assert (s.lease_duration, s.renew_deadline, s.retry_period) == (15.0, 10.0, 2.0)
    assert s.workers >= 1
    assert s.http_port == 8081


def test_flag_beats_env_beats_default() -> None:
    s = _resolve(["--workers", "8"], {"ZENFLOW_WORKERS": "3", "ZENFLOW_QPS": "20"})
    assert s.workers == 8
    assert s.qps == 20.0
    assert _resolve([], {"ZENFLOW_LEADER_ELECTION": "false"}).leader_election is False
    assert _resolve(["--leader-election"], {"ZENFLOW_LEADER_ELECTION": "false"}).leader_election
    assert _resolve(["--no-leader-election"]).leader_election is False


def test_leader_namespace_from_service_account(tmp_path: Path) -> None:
    ns_file = tmp_path / "namespace"
    ns_file.write_text("team-ops\n")
    assert _resolve([], ns_file=ns_file).leader_election_namespace == "team-ops"
    assert (
        _resolve(["--leader-election-namespace", "x"], ns_file=ns_file).leader_election_namespace
        == "x"
    )


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        pytest.param(["--workers", "0"], {}, "--workers:", id="workers-zero"),
        pytest.param(["--workers", "many"], {}, "--workers:", id="workers-not-int"),
        pytest.param(["--qps", "-1"], {}, "--qps:", id="qps-negative"),
        pytest.param(["--burst", "0"], {}, "--burst:", id="burst-zero"),
        pytest.param(["--http-port", "70000"], {}, "--http-port:", id="port-range"),
        pytest.param(["--namespace", "Not_A_Namespace"], {}, "--namespace:", id="namespace"),
        pytest.param(["--lease-name", "Bad Name"], {}, "--lease-name:", id="lease-name"),
        pytest.param(["--log-level", "loud"], {}, "--log-level:", id="log-level"),
        pytest.param(["--log-format", "xml"], {}, "--log-format:", id="log-format"),
        pytest.param(
            ["--lease-duration", "5"], {}, "--lease-duration (5.0s) must be greater", id="lease"
        ),
        pytest.param(
            ["--renew-deadline", "2", "--retry-period", "2"],
            {},
            "--renew-deadline (2.0s) must be greater than 1.2 x --retry-period",
            id="renew-vs-retry",
        ),
        pytest.param([], {"ZENFLOW_WORKERS": "-2"}, "--workers (from $ZENFLOW_WORKERS)", id="env"),
        pytest.param(
            [], {"ZENFLOW_LEADER_ELECTION": "maybe"}, "$ZENFLOW_LEADER_ELECTION", id="bool"
        ),
    ],
)
def test_invalid_values_are_refused_naming_the_flag(
    argv: list[str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _resolve(argv, env)
    assert message in str(info.value)


def test_timings_not_checked_without_leader_election() -> None:
    s = _resolve(["--no-leader-election", "--lease-duration", "1"])
    assert s.leader_election is False


def test_sharding_is_off_by_default_and_set_by_flag_or_env() -> None:
    assert _resolve([]).sharding is False
    assert _resolve(["--sharding"]).sharding is True
    assert _resolve([], {"ZENFLOW_SHARDING": "true"}).sharding is True
    assert _resolve(["--no-sharding"], {"ZENFLOW_SHARDING": "true"}).sharding is False


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        pytest.param(
            ["--sharding", "--no-leader-election"], {}, "--sharding: replicas share", id="no-le"
        ),
        pytest.param([], {"ZENFLOW_SHARDING": "sometimes"}, "$ZENFLOW_SHARDING", id="env-bool"),
        pytest.param(
            ["--sharding", "--lease-duration", "2", "--renew-deadline", "3"],
            {},
            "--lease-duration (2.0s) must be greater",
            id="timings",
        ),
    ],
)
def test_sharding_errors_name_the_flag(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _resolve(argv, env)
    assert message in str(info.value)
