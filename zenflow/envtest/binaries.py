"""The Kubernetes binaries of the local control plane: taken from ``$KUBEBUILDER_ASSETS`` or built.

Resolution: when ``KUBEBUILDER_ASSETS`` is set it must name a directory holding etcd,
kube-apiserver and kube-controller-manager (the envtest convention); kubectl is taken from there
if present, else from the cache. Otherwise every binary comes from the cache directory
``${XDG_CACHE_HOME:-~/.cache}/zenflow/k8s-<version>/bin``, where missing ones are built once from
the pinned Go modules with the machine's Go toolchain (through the Go module proxy).

Invariants: a file in the cache ``bin/`` is a complete binary (built under a temporary name and
renamed into place); at most one process builds into a cache directory at a time (``flock`` on
``.build.lock``), and a process that waited for the lock re-checks what is still missing.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from zenflow.envtest.process import tail
from zenflow.errors import ControlPlaneError

K8S_VERSION: Final = "v1.35.4"
# The k8s.io/* staging modules (client-go, apiserver, ...) released with K8S_VERSION.
STAGING_VERSION: Final = "v0.35.4"
# etcd 3.6 is the version Kubernetes 1.35 is tested against.
ETCD_VERSION: Final = "v3.6.5"
MIN_GO: Final = (1, 24)

REQUIRED: Final = ("etcd", "kube-apiserver", "kube-controller-manager")
ALL: Final = (*REQUIRED, "kubectl")
_K8S_COMMANDS: Final = ("kube-apiserver", "kube-controller-manager", "kubectl")

ASSETS_ENV: Final = "KUBEBUILDER_ASSETS"
_NO_GO_HINT: Final = (
    "install Go >= {min} (apt-get install golang-go, or from https://go.dev/dl) "
    "or set KUBEBUILDER_ASSETS to a directory holding etcd, kube-apiserver and "
    "kube-controller-manager"
)

# Where the official Go tarball (and this project's machine image) installs Go; named in the
# error when `go` is not on PATH.
_IMAGE_GO: Final = "/usr/local/go/bin/go"

Progress = Callable[[str], None]


class BinariesError(ControlPlaneError):
    """The binaries could not be found or built; the message says what to install or set."""


@dataclass(frozen=True)
class Binaries:
    """Paths of the four executables; ``directory`` holds etcd, kube-apiserver and the KCM."""

    directory: Path
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kubectl: Path


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/zenflow/k8s-<version>``: the build tree and its ``bin/``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zenflow" / f"k8s-{K8S_VERSION}"


def _stderr_progress(message: str) -> None:
    print(f"zenflow envtest: {message}", file=sys.stderr, flush=True)


def ensure_binaries(
    *,
    env: Mapping[str, str] | None = None,
    cache_dir: Path | None = None,
    progress: Progress | None = _stderr_progress,
) -> Binaries:
    """Return the binaries, building the missing ones into the cache first (minutes, once)."""
    env = dict(os.environ if env is None else env)
    cache = cache_dir or default_cache_dir(env)
    say = progress or (lambda _message: None)
    assets = env.get(ASSETS_ENV, "")
    if assets:
        found = _from_assets(Path(assets))
        kubectl = (
            found.get("kubectl")
            or _ensure_cached(cache=cache, names=("kubectl",), env=env, say=say)["kubectl"]
        )
        return _binaries(Path(assets), {**found, "kubectl": kubectl})
    paths = _ensure_cached(cache=cache, names=ALL, env=env, say=say)
    return _binaries(cache / "bin", paths)


def _binaries(directory: Path, paths: Mapping[str, Path]) -> Binaries:
    return Binaries(
        directory=directory,
        etcd=paths["etcd"],
        kube_apiserver=paths["kube-apiserver"],
        kube_controller_manager=paths["kube-controller-manager"],
        kubectl=paths["kubectl"],
    )


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _from_assets(assets: Path) -> dict[str, Path]:
    if not assets.is_dir():
        raise BinariesError(
            f"{ASSETS_ENV}={assets} is not a directory; point it at a directory holding "
            f"{', '.join(REQUIRED)} or unset it to build them with Go"
        )
    missing = [name for name in REQUIRED if not _executable(assets / name)]
    if missing:
        raise BinariesError(
            f"{ASSETS_ENV}={assets} has no executable {', '.join(missing)}; "
            f"it must hold {', '.join(REQUIRED)} (kubectl optional)"
        )
    return {name: assets / name for name in ALL if _executable(assets / name)}


def _ensure_cached(
    *, cache: Path, names: tuple[str, ...], env: dict[str, str], say: Progress
) -> dict[str, Path]:
    bin_dir = cache / "bin"
    paths = {name: bin_dir / name for name in names}
    if all(_executable(path) for path in paths.values()):
        return paths
    go = _find_go(env=env)
    cache.mkdir(parents=True, exist_ok=True)
    with _build_lock(cache=cache, say=say):
        missing = [name for name in names if not _executable(paths[name])]
        if missing:
            _GoBuild(go=go, cache=cache, env=env, say=say).build(missing)
    return paths


@contextmanager
def _build_lock(*, cache: Path, say: Progress) -> Iterator[None]:
    with open(cache / ".build.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"another process is building into {cache}; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _find_go(*, env: Mapping[str, str]) -> str:
    go = shutil.which("go", path=env.get("PATH", os.defpath))
    hint = _NO_GO_HINT.format(min=".".join(map(str, MIN_GO)))
    if go is None:
        found = (
            f" ({_IMAGE_GO} exists: add {Path(_IMAGE_GO).parent} to PATH)"
            if _executable(Path(_IMAGE_GO))
            else ""
        )
        raise BinariesError(
            f"the Kubernetes binaries are not built yet and no `go` is on PATH{found}: {hint}"
        )
    out = subprocess.run(
        [go, "version"], capture_output=True, text=True, env=dict(env), check=False
    )
    match = re.search(r"go(\d+)\.(\d+)", out.stdout)
    if out.returncode != 0 or match is None:
        raise BinariesError(f"`{go} version` failed ({out.stderr.strip()}): {hint}")
    if (int(match[1]), int(match[2])) < MIN_GO:
        raise BinariesError(
            f"{go} is go{match[1]}.{match[2]}; Kubernetes {K8S_VERSION} needs a newer Go: {hint}"
        )
    return go


class _GoBuild:
    """One build session into ``cache``: generated modules under ``src/``, output in ``bin/``."""

    def __init__(self, *, go: str, cache: Path, env: dict[str, str], say: Progress) -> None:
        self.go = go
        self.cache = cache
        self.env = env
        self.say = say
        self.log_path = cache / "build.log"

    def build(self, names: list[str]) -> None:
        started = time.monotonic()
        self.say(
            f"building {', '.join(names)} (Kubernetes {K8S_VERSION}, etcd {ETCD_VERSION}) "
            f"into {self.cache / 'bin'}; a first build takes 5-15 minutes on 2 cores; "
            f"log: {self.log_path}"
        )
        (self.cache / "bin").mkdir(exist_ok=True)
        if "etcd" in names:
            module = self._etcd_module()
            self._compile(module, "etcd", "zenflow.local/etcdbuild")
        k8s_names = [name for name in names if name in _K8S_COMMANDS]
        if k8s_names:
            module = self._k8s_module()
            for name in k8s_names:
                self._compile(module, name, f"k8s.io/kubernetes/cmd/{name}")
        self.say(f"built {', '.join(names)} in {time.monotonic() - started:.0f}s")

    def _etcd_module(self) -> Path:
        module = self.cache / "src" / "etcd"
        module.mkdir(parents=True, exist_ok=True)
        (module / "main.go").write_text(
            "// Generated by zenflow: the etcd server binary.\npackage main\n\n"
            'import (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\n'
            "func main() { etcdmain.Main(os.Args) }\n"
        )
        self._write_go_mod(
            module,
            f"module zenflow.local/etcdbuild\n\ngo 1.24\n\n"
            f"require go.etcd.io/etcd/server/v3 {ETCD_VERSION}\n",
        )
        return module

    def _k8s_module(self) -> Path:
        module = self.cache / "src" / "k8s"
        module.mkdir(parents=True, exist_ok=True)
        upstream = self._upstream_go_mod()
        go_directive = re.search(r"^go (\S+)$", upstream, re.MULTILINE)
        # k8s.io/kubernetes points its staging modules at ./staging/...; a module requiring it
        # must pin each one to the matching published version instead.
        staging = sorted(set(re.findall(r"^\s*(k8s\.io/\S+)\s+=>\s+\./staging/", upstream, re.M)))
        if not staging:
            raise BinariesError("found no staging replace lines in k8s.io/kubernetes's go.mod")
        replaces = "".join(f"\t{mod} => {mod} {STAGING_VERSION}\n" for mod in staging)
        imports = "".join(f'\t_ "k8s.io/kubernetes/cmd/{name}"\n' for name in _K8S_COMMANDS)
        (module / "tools.go").write_text(
            f"//go:build tools\n\n// Generated by zenflow.\npackage tools\n\nimport (\n{imports})\n"
        )
        self._write_go_mod(
            module,
            f"module zenflow.local/k8sbuild\n\ngo {go_directive[1] if go_directive else '1.24'}\n\n"
            f"require k8s.io/kubernetes {K8S_VERSION}\n\nreplace (\n{replaces})\n",
        )
        return module

    def _upstream_go_mod(self) -> str:
        self.say(f"downloading k8s.io/kubernetes@{K8S_VERSION}")
        out = self._run(
            [self.go, "mod", "download", "-json", f"k8s.io/kubernetes@{K8S_VERSION}"],
            cwd=self.cache,
            what="download k8s.io/kubernetes",
        )
        try:
            return Path(json.loads(out)["GoMod"]).read_text()
        except (ValueError, KeyError, OSError) as exc:
            raise BinariesError(f"could not read k8s.io/kubernetes's go.mod: {exc!r}") from exc

    def _write_go_mod(self, module: Path, content: str) -> None:
        # Only the direct requirements are written; `go mod tidy` adds the rest (go.sum is kept,
        # so a re-run needs no network once the module cache holds everything).
        (module / "go.mod").write_text(content)
        self.say(f"resolving modules in {module} (go mod tidy)")
        self._run([self.go, "mod", "tidy"], cwd=module, what=f"go mod tidy in {module}")

    def _compile(self, module: Path, name: str, package: str) -> None:
        target = self.cache / "bin" / name
        partial = target.with_name(f".{name}.partial")
        self.say(f"compiling {name}")
        started = time.monotonic()
        ldflags = "-s -w" if name == "etcd" else f"-s -w {_version_ldflags()}"
        self._run(
            [
                self.go,
                "build",
                "-mod=mod",
                "-trimpath",
                f"-ldflags={ldflags}",
                "-o",
                str(partial),
                package,
            ],
            cwd=module,
            what=f"build {name}",
        )
        partial.replace(target)
        self.say(f"compiled {name} in {time.monotonic() - started:.0f}s")

    def _run(self, argv: list[str], *, cwd: Path, what: str) -> str:
        with open(self.log_path, "a") as log:
            log.write(f"\n$ (cd {cwd} && {' '.join(argv)})\n")
            log.flush()
            proc = subprocess.run(
                argv,
                cwd=cwd,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                check=False,
            )
            log.write(proc.stdout)
        if proc.returncode != 0:
            raise BinariesError(
                f"{what} failed (exit {proc.returncode}); last lines of {self.log_path}:\n"
                f"{tail(self.log_path)}\n"
                f"fix the cause (network access to the Go module proxy, disk space, Go >= "
                f"{'.'.join(map(str, MIN_GO))}) or set {ASSETS_ENV}"
            )
        return proc.stdout


def _version_ldflags() -> str:
    """Stamp the release into the binaries, as Kubernetes' own build does (hack/lib/version.sh);
    without it they report v0.0.0-master to clients."""
    major, minor = K8S_VERSION.lstrip("v").split(".")[:2]
    values = {
        "gitVersion": K8S_VERSION,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
    }
    return " ".join(
        f"-X {package}.{key}={value}"
        for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for key, value in values.items()
    )
