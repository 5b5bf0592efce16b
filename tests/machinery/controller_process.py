"""Run ``zenflow controller`` (``python -m zenflow controller``) as a subprocess and read its
JSON log lines (integration helper)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any


class ControllerProcess:
    def __init__(self, name: str, args: list[str], *, log_path: Path) -> None:
        self.name = name
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZENFLOW_")}
        env["POD_NAME"] = name
        self._log_file = log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zenflow", "controller", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._log_file.write(line)
            self._log_file.flush()
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                with self._lock:
                    self.records.append(record)

    def events(self, event: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.records if r.get("event") == event]

    def first_time(self, event: str) -> datetime | None:
        found = self.events(event)
        return parse_ts(found[0]["timestamp"]) if found else None

    def wait_for(self, event: str, *, within: float) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = self.events(event)
            if found:
                return found[0]
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader drain
                found = self.events(event)
                if found:
                    return found[0]
                raise AssertionError(f"{self.name} exited {self.proc.returncode} before {event}")
            time.sleep(0.02)
        raise AssertionError(f"{self.name}: no {event} within {within}s")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, *, within: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(within)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        self._log_file.close()


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
