"""A real headless browser for the tests: Debian's chromium and chromium-driver, driven by selenium.

The test is skipped when either is missing (``.ci/run`` installs them). Each :class:`Browser`
has a fresh profile directory, removed by :meth:`Browser.close`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import unittest
from typing import Any, List

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-dev-shm-usage")


class Browser:
    """One headless chromium window of ``width`` x ``height`` CSS pixels."""

    def __init__(self, width: int = 1280, height: int = 800) -> None:
        try:
            from selenium import webdriver
            from selenium.webdriver.chrome.service import Service
        except ImportError:
            raise unittest.SkipTest("selenium is not installed (pip install -e '.[test]')") from None
        for program in (CHROMIUM, CHROMEDRIVER):
            if not os.access(program, os.X_OK):
                raise unittest.SkipTest(f"{program} is missing (apt-get install chromium chromium-driver)")
        self.profile = tempfile.mkdtemp(prefix="monilog-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        options.add_argument(f"--window-size={width},{height}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        try:
            self.driver: Any = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        except Exception:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self.resize(width, height)

    def resize(self, width: int, height: int) -> None:
        """Make the page's viewport exactly ``width`` x ``height`` (a screenshot's size)."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})

    def blank(self) -> None:
        """Start afresh: leave the page shown (its connections close, so a live page of the test
        before cannot log its server's going away into this one), let the network through
        again, and forget what the browser logged so far."""
        self.driver.get("about:blank")
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
        self.driver.get_log("browser")

    def block_network(self) -> None:
        """Fail every request that would leave the page's file (http, https, ws...)."""
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*", "ftp://*"]})

    def run(self, script: str, *arguments: Any) -> Any:
        return self.driver.execute_script(script, *arguments)

    def text(self, css: str) -> str:
        """The text of the first element matching ``css`` ("" when there is none)."""
        return str(self.run("var e = document.querySelector(arguments[0]); return e ? e.textContent : '';", css))

    def console_errors(self) -> List[str]:
        return [entry["message"] for entry in self.driver.get_log("browser") if entry.get("level") == "SEVERE"]

    def screenshot(self, path: str) -> None:
        self.driver.save_screenshot(path)

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)
