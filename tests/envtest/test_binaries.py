"""Finding and building the control plane's binaries (zenflow.envtest.binaries).

Aspects: KUBEBUILDER_ASSETS used as given, and refused with the missing name when incomplete or
not a directory; kubectl taken from the cache when the assets lack it; the cache directory under
XDG_CACHE_HOME; missing or too old Go named with what to install; a failed build reported with
its log's tail; the generated go.mod pinning every staging module; two concurrent builders
building each binary once. A fake ``go`` script stands in for the toolchain (the real build is
exercised by every integration test through the cache).
"""

from __future__ import annotations

import os
import stat
import sys
import threading
from pathlib import Path

import pytest

from zenflow.envtest.binaries import (
    ALL,
    K8S_VERSION,
    REQUIRED,
    STAGING_VERSION,
    BinariesError,
    default_cache_dir,
    ensure_binaries,
)

FAKE_GO = f"""#!{sys.executable}
import json, os, pathlib, sys, time
args = sys.argv[1:]
state = pathlib.Path(os.environ["FAKE_GO_DIR"])
if args == ["version"]:
    print("go version go" + os.environ.get("FAKE_GO_VERSION", "1.26.0") + " linux/amd64")
    sys.exit(0)
if os.environ.get("FAKE_GO_FAIL"):
    print("boom: proxy.golang.org unreachable", file=sys.stderr)
    sys.exit(1)
if args[:2] == ["mod", "download"]:
    gomod = state / "kubernetes.mod"
    gomod.write_text("module k8s.io/kubernetes\\n\\ngo 1.25.0\\n\\nreplace (\\n"
                     "\\tk8s.io/api => ./staging/src/k8s.io/api\\n"
                     "\\tk8s.io/client-go => ./staging/src/k8s.io/client-go\\n)\\n")
    print(json.dumps({{"GoMod": str(gomod)}}))
    sys.exit(0)
if args[:2] == ["mod", "tidy"]:
    sys.exit(0)
if args[0] == "build":
    out = pathlib.Path(args[args.index("-o") + 1])
    with open(state / "builds", "a") as f:
        f.write(args[-1] + "\\n")
    time.sleep(0.3)
    out.write_text("#!/bin/sh\\n")
    out.chmod(0o755)
    sys.exit(0)
sys.exit(2)
"""


def _executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def fake_go(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH holds only a fake ``go``; FAKE_GO_DIR records its builds."""
    bin_dir = tmp_path / "gobin"
    bin_dir.mkdir()
    _executable(bin_dir / "go").write_text(FAKE_GO)
    state = tmp_path / "gostate"
    state.mkdir()
    return {"PATH": str(bin_dir), "FAKE_GO_DIR": str(state), "HOME": str(tmp_path)}


def _builds(env: dict[str, str]) -> list[str]:
    path = Path(env["FAKE_GO_DIR"]) / "builds"
    return path.read_text().split() if path.exists() else []


def test_assets_directory_is_used_as_given(tmp_path: Path) -> None:
    for name in ALL:
        _executable(tmp_path / name)
    found = ensure_binaries(
        env={"KUBEBUILDER_ASSETS": str(tmp_path), "PATH": ""}, cache_dir=tmp_path / "cache"
    )
    assert found.directory == tmp_path
    assert found.kube_apiserver == tmp_path / "kube-apiserver"
    assert found.kubectl == tmp_path / "kubectl"
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        pytest.param((), "etcd, kube-apiserver, kube-controller-manager", id="empty"),
        pytest.param(("etcd",), "kube-apiserver, kube-controller-manager", id="only-etcd"),
        pytest.param(("etcd", "kube-apiserver"), "kube-controller-manager", id="no-kcm"),
    ],
)
def test_incomplete_assets_directory_names_missing_binaries(
    tmp_path: Path, present: tuple[str, ...], missing: str
) -> None:
    for name in present:
        _executable(tmp_path / name)
    with pytest.raises(BinariesError, match=f"has no executable {missing};"):
        ensure_binaries(env={"KUBEBUILDER_ASSETS": str(tmp_path)}, cache_dir=tmp_path / "c")


def test_assets_that_is_not_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BinariesError, match=r"KUBEBUILDER_ASSETS=.*/nowhere is not a directory"):
        ensure_binaries(env={"KUBEBUILDER_ASSETS": str(tmp_path / "nowhere")})


def test_kubectl_missing_from_assets_comes_from_the_cache(tmp_path: Path) -> None:
    assets, cache = tmp_path / "assets", tmp_path / "cache"
    (cache / "bin").mkdir(parents=True)
    assets.mkdir()
    for name in REQUIRED:
        _executable(assets / name)
    _executable(cache / "bin" / "kubectl")
    found = ensure_binaries(env={"KUBEBUILDER_ASSETS": str(assets), "PATH": ""}, cache_dir=cache)
    assert found.etcd == assets / "etcd"
    assert found.kubectl == cache / "bin" / "kubectl"


def test_cache_dir_follows_xdg_cache_home(tmp_path: Path) -> None:
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == (
        tmp_path / "zenflow" / f"k8s-{K8S_VERSION}"
    )


def test_missing_go_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(BinariesError) as info:
        ensure_binaries(env={"PATH": str(tmp_path)}, cache_dir=tmp_path / "cache", progress=None)
    message = str(info.value)
    assert "no `go` is on PATH" in message  # (plus a hint when /usr/local/go/bin has one)
    assert "apt-get install golang-go" in message
    assert "KUBEBUILDER_ASSETS" in message


def test_too_old_go_is_refused(tmp_path: Path, fake_go: dict[str, str]) -> None:
    env = {**fake_go, "FAKE_GO_VERSION": "1.19.8"}
    with pytest.raises(BinariesError, match=r"is go1\.19; Kubernetes v1\.35\.4 needs a newer Go"):
        ensure_binaries(env=env, cache_dir=tmp_path / "cache", progress=None)


def test_failed_build_reports_the_log_tail(tmp_path: Path, fake_go: dict[str, str]) -> None:
    env = {**fake_go, "FAKE_GO_FAIL": "1"}
    with pytest.raises(BinariesError) as info:
        ensure_binaries(env=env, cache_dir=tmp_path / "cache", progress=None)
    message = str(info.value)
    assert "failed (exit 1)" in message
    assert "boom: proxy.golang.org unreachable" in message
    assert str(tmp_path / "cache" / "build.log") in message
    assert not list((tmp_path / "cache" / "bin").iterdir())


def test_build_generates_pinned_modules_and_all_binaries(
    tmp_path: Path, fake_go: dict[str, str]
) -> None:
    cache = tmp_path / "cache"
    messages: list[str] = []
    found = ensure_binaries(env=fake_go, cache_dir=cache, progress=messages.append)
    assert found.directory == cache / "bin"
    assert all(os.access(cache / "bin" / name, os.X_OK) for name in ALL)
    assert sorted(_builds(fake_go)) == sorted(
        [
            "zenflow.local/etcdbuild",
            "k8s.io/kubernetes/cmd/kube-apiserver",
            "k8s.io/kubernetes/cmd/kube-controller-manager",
            "k8s.io/kubernetes/cmd/kubectl",
        ]
    )
    go_mod = (cache / "src" / "k8s" / "go.mod").read_text()
    assert f"require k8s.io/kubernetes {K8S_VERSION}" in go_mod
    assert f"k8s.io/api => k8s.io/api {STAGING_VERSION}" in go_mod
    assert f"k8s.io/client-go => k8s.io/client-go {STAGING_VERSION}" in go_mod
    assert "go 1.25.0" in go_mod
    assert any("compiling kube-apiserver" in message for message in messages)
    # A second call finds everything and builds nothing.
    ensure_binaries(env=fake_go, cache_dir=cache, progress=None)
    assert len(_builds(fake_go)) == 4


def test_concurrent_builders_build_each_binary_once(
    tmp_path: Path, fake_go: dict[str, str]
) -> None:
    cache = tmp_path / "cache"
    errors: list[BaseException] = []

    def build() -> None:
        try:
            ensure_binaries(env=fake_go, cache_dir=cache, progress=None)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(_builds(fake_go)) == 4
