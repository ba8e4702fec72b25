"""The sync audit's fixtures: one state made by the real flow, one `leadsync ui`, one browser.

`audit_world` (once per test session, i.e. per xdist worker): the emulators with the sync
tests' seed plus an address book whose name is markup, `leadsync apply`, members added through
Dotdigital's API (one named `<script>...`, one skipped, one failed with markup in its value,
one already a Salesforce Contact), two `leadsync sync --json` runs (their reports kept), and
`leadsync ui -c leadsync.yaml --port 0 --ready-file` serving that state.

`browser`: ONE headless Debian Chromium per test session, driven through Selenium's WebDriver
(chromium-driver), started with the flags this machine's closed network needs and a fresh
profile. A missing chromium FAILS the tests with the install line: skipping would let CI pass
without ever rendering a page.

The workspace helpers are the sync tests' own (the `kit` fixture of tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

# Debian's paths; another machine (e.g. a GitHub runner with its own Chrome) can name its own.
CHROMIUM = os.environ.get("LEADSYNC_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LEADSYNC_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1360,900",
)
XSS_BOOK = 'Partners <img src=x onerror="window.__xss=1">'
XSS_NAME = "<script>window.__xss=2</script>"
XSS_REGION = "<script>window.__xss=3</script>"


class UiProcess:
    """`leadsync ui ...` as a process; `url` once its ready file is written."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], kit: Any) -> None:
        self.kit = kit
        self.ready = Path(tempfile.mkdtemp(prefix="leadsync-ui-")) / "ready.json"
        leadsync = str(Path(sys.executable).with_name("leadsync"))
        self.proc = subprocess.Popen(
            [leadsync, "ui", *args, "--port", "0", "--ready-file", str(self.ready)],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.url = self._wait()

    def _wait(self) -> str:
        self.kit.until(self.ready.is_file, "the ui's ready file", (self.proc,))
        return json.loads(self.ready.read_text())["url"]

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path.lstrip("/"), timeout=30, **kwargs)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=30)
        shutil.rmtree(self.ready.parent, ignore_errors=True)
        return self.proc.returncode, out, err


@dataclass
class AuditWorld:
    ws: Any  # tests/sync/conftest.py Workspace
    reports: list[dict[str, Any]]  # the sync --json reports, oldest first
    ui: UiProcess
    secrets: dict[str, str] = field(default_factory=dict)
    xss_book: str = XSS_BOOK
    xss_name: str = XSS_NAME
    xss_region: str = XSS_REGION

    @property
    def last(self) -> dict[str, Any]:
        return self.reports[-1]

    def records(self, state: str) -> list[dict[str, Any]]:
        """What `leadsync records --state STATE --json` lists (the CLI's own reading)."""
        proc = self.ws.run("records", "-c", "leadsync.yaml", "--state", state, "--json", check=(0,))
        return json.loads(proc.stdout)


def _build_world(
    root: Path, sync: Any, start_emulator: Any
) -> tuple[Any, Any, list[dict[str, Any]]]:
    seed = json.loads(json.dumps(sync.BASE_SEED))
    seed["dotdigital"]["accounts"][0]["address_books"].append({"name": XSS_BOOK, "contacts": []})
    emu = start_emulator(seed)
    ws = sync.Workspace(root, emu)
    ws.write_config(
        sync.config_yaml(
            books=[
                {
                    "name": "Webinar signups",
                    "create_leads": True,
                    "campaign": "Spring Webinar 2026",
                },
                {"name": XSS_BOOK, "create_leads": True},
            ]
        )
    )
    ws.apply()
    member = sync.member
    ws.add_member("jane@example.com", member("Jane", "Doe", "Acme"))
    ws.add_member("script@example.com", member(XSS_NAME, "Tables", "<b>Bold</b> & Co"))
    ws.add_member("no.company@example.com", member("Nadia", "Nocompany", None))
    ws.add_member("latam@example.com", member("Luis", "Latam", "Sur SA", region=XSS_REGION))
    ws.add_member("OLD@example.com", member("Olde", "Existing", "Legacy"))
    ws.add_member("partner@example.com", member("Pat", "Partner", "Partner Co"), book=XSS_BOOK)
    first = ws.sync()
    ws.add_member("late@example.com", member("Lena", "Late", "Late Ltd", region="APAC"))
    second = ws.sync()
    return emu, ws, [first, second]


@pytest.fixture(scope="session")
def audit_world(
    tmp_path_factory: pytest.TempPathFactory, kit: Any, session_emulator_factory: Any
) -> Iterator[AuditWorld]:
    """Its emulators stop with the session (session_emulator_factory)."""
    emu, ws, reports = _build_world(tmp_path_factory.mktemp("audit"), kit, session_emulator_factory)
    ui = UiProcess(["-c", "leadsync.yaml"], ws.root, ws.env, kit)
    # the credentials leadsync.yaml reads (it fingerprints the Dotdigital user name too)
    wanted = ("SF_ACCESS_TOKEN", "DD_UK_USERNAME", "DD_UK_PASSWORD")
    secrets = {k: v for k, v in emu.env().items() if k in wanted}
    try:
        yield AuditWorld(ws, reports, ui, secrets)
    finally:
        ui.stop()


@pytest.fixture
def ui_process(kit: Any) -> Iterator[Any]:
    """Start `leadsync ui ARGS --port 0 --ready-file ...`: factory(args, cwd, env=None)."""
    started: list[UiProcess] = []

    def start(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> UiProcess:
        ui = UiProcess(args, cwd, env if env is not None else dict(os.environ), kit)
        started.append(ui)
        return ui

    yield start
    for ui in started:
        if ui.proc.poll() is None:
            ui.stop()


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.fail(
            "the browser tests need Debian's chromium and chromium-driver: "
            "apt-get install chromium chromium-driver (.ci/run installs them)",
            pytrace=False,
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


class Page:
    """The browser on one audit page: load, console errors, full-page screenshot."""

    def __init__(self, driver: Any, shots: Path) -> None:
        self.driver = driver
        self.shots = shots

    def open(self, url: str) -> Any:
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        self.driver.get_log("browser")  # drop what an earlier page logged
        self.driver.get(url)
        return self.driver

    def console_errors(self) -> list[dict[str, Any]]:
        return [e for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"]

    def screenshot(self, name: str) -> Path:
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": 1360,
                "height": min(max(int(height), 600), 6000),
                "deviceScaleFactor": 1,
                "mobile": False,
            },
        )
        path = self.shots / f"{name}.png"
        assert self.driver.save_screenshot(str(path)), path
        return path

    def css(self, selector: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def one(self, selector: str) -> Any:
        found = self.css(selector)
        assert len(found) == 1, (selector, len(found))
        return found[0]


@pytest.fixture
def page(browser: Any, screenshots: Path) -> Page:
    return Page(browser, screenshots)
