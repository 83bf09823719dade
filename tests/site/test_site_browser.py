"""Headless Chromium against the preview server: no console errors, the video plays its metadata.

Uses the system's Chromium and chromedriver (Debian: `apt-get install chromium chromium-driver`);
nothing is downloaded. Skipped when /usr/bin/chromium is absent.
"""

from __future__ import annotations

import os

import pytest

from pipeline.site.preview import Preview
from tests.site.common import CHROMIUM, headless_chromium

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed")

WAIT_FOR_METADATA = """
const done = arguments[arguments.length - 1];
const video = document.querySelector("video");
if (!video) { done({ok: false, why: "no video element"}); return; }
const report = () => done({ok: true, duration: video.duration, width: video.videoWidth,
                           height: video.videoHeight, src: video.currentSrc});
if (video.readyState >= 1) { report(); return; }
video.addEventListener("loadedmetadata", report);
video.addEventListener("error", () => done({ok: false, why: "error", code: video.error && video.error.code}));
setTimeout(() => done({ok: false, why: "timeout", state: video.readyState, network: video.networkState}), 20000);
"""


@pytest.fixture(scope="module")
def browser():
    with headless_chromium(30, flags=("--autoplay-policy=no-user-gesture-required",),
                           capabilities={"goog:loggingPrefs": {"browser": "ALL"}}) as driver:
        yield driver


@pytest.fixture(scope="module")
def preview(rendered_demo):
    """`alpha serve`'s server (live reload included) on a free port, in this process."""
    requests: list[str] = []
    server = Preview(rendered_demo, port=0, say=lambda message: requests.append(message), log_requests=True)
    server.start(watch=False)
    server.requests = requests
    try:
        yield server
    finally:
        server.stop()


ALL_IMAGES_LOADED = """
const done = arguments[arguments.length - 1];
const images = [...document.images];
images.forEach(image => { image.loading = "eager"; });  // lazy ones load when scrolled to
window.scrollTo(0, document.body.scrollHeight);
const check = (tries) => {
  const state = images.map(i => [i.currentSrc || i.src, i.complete && i.naturalWidth > 0]);
  if (state.every(([, ok]) => ok) || tries === 0) done(state); else setTimeout(() => check(tries - 1), 100);
};
check(100);
"""


def problems(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]


def test_catalog_loads_without_console_errors(browser, preview):
    browser.get(preview.url)
    assert "Alpha" in browser.title
    cards = browser.find_elements("css selector", ".card")
    assert len(cards) == 3
    images = browser.execute_async_script(ALL_IMAGES_LOADED)
    missing = [src for src, ok in images if not ok]
    assert len(images) >= 4 and not missing, f"images that did not load: {missing}"
    assert problems(browser) == []


def test_episode_page_video_reaches_loadedmetadata(browser, preview):
    browser.get(preview.url + "episodes/ep02-the-seam/")
    assert browser.find_element("css selector", "h1").text == "The seam"
    result = browser.execute_async_script(WAIT_FOR_METADATA)
    assert result["ok"], result
    assert 8.0 < result["duration"] < 9.5
    assert (result["width"], result["height"]) == (640, 640)
    assert "/media/" in result["src"]
    assert problems(browser) == []
    # Chromium fetched the video with Range requests, and got 206s.
    assert any(".mp4" in line and " 206 " in line for line in preview.requests), preview.requests[-10:]


def test_post_with_embedded_video_and_proof_loads(browser, preview):
    browser.get(preview.url + "blog/the-seam/")
    images = browser.execute_async_script(ALL_IMAGES_LOADED)
    assert len(images) >= 3 and all(ok for _, ok in images), images
    browser.get(preview.url + "blog/welcome/")
    result = browser.execute_async_script(WAIT_FOR_METADATA)
    assert result["ok"], result
    assert problems(browser) == []
