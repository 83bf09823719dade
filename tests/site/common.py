"""Constants and helpers shared by the site tests."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The demo's dates lie in October and November 2026: build "as of" a fixed day after them.
TODAY = dt.date(2026, 11, 25)
EPISODES = ["ep01-hello", "ep02-the-seam", "ep03-rain"]
# Debian's chromium and chromium-driver packages (.ci/run installs them).
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
HEADLESS_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                  "--window-size=1280,900")


@contextlib.contextmanager
def headless_chromium(script_timeout: float, flags: tuple[str, ...] = (),
                      capabilities: dict[str, Any] | None = None) -> Iterator[Any]:
    """A Selenium driver of headless Chromium with a profile of its own (removed after), the
    test skipped where Selenium, Chromium or its driver is missing."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER}")
    profile = tempfile.mkdtemp(prefix="alpha-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*HEADLESS_FLAGS, *flags, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    for name, value in (capabilities or {}).items():
        options.set_capability(name, value)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_script_timeout(script_timeout)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def override_template(project: Path, name: str) -> Path:
    """Copy the theme's template `name` into the project's templates/, to be edited there."""
    from pipeline.site.templates import THEME

    target = project / "templates" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(THEME / name, target)
    return target
