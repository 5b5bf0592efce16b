"""A real headless Chromium (Debian's ``chromium`` + ``chromedriver``) driven by selenium, for
the UI's browser tests.

Every WebDriver call runs on one worker thread (``Page``'s executor), so an async test awaits
the browser while the same event loop keeps serving the UI and running the controller. Waits
are conditions polled by ``WebDriverWait`` (a JavaScript predicate over the page), never
sleeps. Screenshots go to ``.artifacts/ui/`` (gitignored).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WINDOW = (1440, 900)
POLL_S = 0.05

T = TypeVar("T")


def start_chromium() -> WebDriver:
    """Headless Chromium with a fixed window size; fails with what to install if missing."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            raise RuntimeError(
                f"{path} is missing: apt-get install chromium chromium-driver (.ci/run does)"
            )
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # runs as root in CI
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--no-first-run",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


class Page:
    """Async access to one browser tab."""

    def __init__(self, driver: WebDriver, artifacts: Path) -> None:
        self.driver = driver
        self.artifacts = artifacts
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="selenium")

    def close(self) -> None:
        self._thread.shutdown(wait=True)

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    async def open(self, url: str) -> None:
        await self._run(lambda: self.driver.get(url))

    async def js(self, script: str, *args: Any) -> Any:
        return await self._run(lambda: self.driver.execute_script(script, *args))

    async def wait(self, predicate: str, *, within: float, what: str, arg: Any = None) -> Any:
        """Poll the JavaScript expression ``predicate`` (``arg`` is ``arguments[0]``) until
        truthy; returns its value. Fails naming ``what`` and the browser's console errors."""

        def until() -> Any:
            wait = WebDriverWait(self.driver, within, poll_frequency=POLL_S)
            return wait.until(lambda d: d.execute_script(f"return ({predicate});", arg))

        try:
            return await self._run(until)
        except TimeoutException:
            errors = await self.console_errors()
            raise AssertionError(
                f"{what}: not true within {within:g}s; browser errors: {errors}"
            ) from None

    async def click(self, css: str, *, within: float = 10.0) -> None:
        """Click the first visible element matching ``css`` once it is there."""
        await self.wait(
            "(() => { const e = document.querySelector(arguments[0]);"
            " return !!e && e.offsetParent !== null; })()",
            within=within,
            what=f"{css} visible",
            arg=css,
        )
        await self.js("document.querySelector(arguments[0]).click()", css)

    async def screenshot(self, name: str) -> Path:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{name}.png"
        await self._run(lambda: self.driver.save_screenshot(str(path)))
        return path

    async def console_errors(self) -> list[str]:
        get_log = self.driver.get_log  # type: ignore[attr-defined]  # Chrome's WebDriver has it
        logs = await self._run(lambda: get_log("browser"))
        return [str(e.get("message")) for e in logs if e.get("level") == "SEVERE"]


def monotonic() -> float:
    return time.monotonic()
