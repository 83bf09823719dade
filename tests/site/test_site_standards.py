"""Every page of a built demo site passes the Nu Html Checker with no errors, and axe-core in
headless Chromium with no serious or critical violations, in light and dark colour schemes.

The checkers are the real ones, installed by tools/test.sh from the npm registry into
.tools/ (vnu-jar, run with the machine's Java; axe-core, injected into Chromium through
selenium). Skipped, saying why, where they are not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from tests.helpers import write
from tests.site.common import headless_chromium

REPO = Path(__file__).resolve().parents[2]
TOOLS = Path(os.environ.get("ALPHA_TOOLS", REPO / ".tools")) / "node_modules"
VNU_JAR = TOOLS / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_JS = TOOLS / "axe-core" / "axe.min.js"
SERIOUS = {"serious", "critical"}


@pytest.fixture(scope="module")
def standards_site(rendered_demo):
    """The demo with an alias and a post holding every shortcode, built (drafts included, so
    every template is used)."""
    from pipeline.site.build import build_site
    from tests.site.common import TODAY

    episode = rendered_demo / "episodes" / "ep01-hello.yaml"
    episode.write_text(episode.read_text() + "aliases: [/old/hello/]\n")
    # A captions track and the transcript under the video (ep03: a transcript alone, in Russian).
    write(rendered_demo / "captions" / "ep02.vtt", """
        WEBVTT

        00:00:00.500 --> 00:00:03.000
        Hello, and <i>welcome</i> back.
    """)
    seam = rendered_demo / "episodes" / "ep02-the-seam.yaml"
    seam.write_text(seam.read_text() + "captions: captions/ep02.vtt\n")
    rain = rendered_demo / "episodes" / "ep03-rain.yaml"
    rain.write_text(rain.read_text() + "transcript: Дождь за окном.\nlanguage: ru\n")
    write(rendered_demo / "posts" / "2026-11-05-all-shortcodes.md", """
        ---
        title: Every shortcode
        tags: [Привет, restore]
        episodes: [ep02-the-seam]
        fixes: [TASK-101]
        ---
        A badge {{< fix TASK-101 >}} in a sentence.

        {{< video ep02-the-seam "The seam, played" >}}

        {{< proof ep02-the-seam @3s "Every proof at three seconds" >}}

        {{< episode ep03-rain >}}

        ## A heading

        | a | b |
        |---|---|
        | 1 | 2 |
        """)
    build_site(rendered_demo, drafts=True, today=TODAY)
    return rendered_demo / "site"


def _pages(site: Path) -> list[Path]:
    return sorted(path for path in site.rglob("*.html") if not path.is_symlink())


def test_every_page_passes_the_nu_html_checker(standards_site):
    java = shutil.which("java")
    if java is None or not VNU_JAR.is_file():
        pytest.skip(f"needs java and {VNU_JAR} (tools/test.sh installs vnu-jar)")
    pages = _pages(standards_site)
    assert len(pages) > 15
    # One JVM for every page: the checker's start-up is most of its time.
    result = subprocess.run([java, "-Xss1024k", "-jar", str(VNU_JAR), "--errors-only", "--format", "json",
                             *map(str, pages)], capture_output=True, text=True, timeout=240)
    report = json.loads(result.stderr or result.stdout or '{"messages": []}')
    prefix = f"file:{standards_site}/"
    errors = [f"{m.get('url', '?').removeprefix(prefix)}:{m.get('lastLine', '?')}: {m['message']}"
              for m in report["messages"] if m.get("type") == "error"]
    assert errors == [], "\n".join(errors)
    assert result.returncode == 0


@pytest.fixture(scope="module")
def served(standards_site):
    from pipeline.site.server import SiteServer

    server = SiteServer(standards_site, port=0, link_targets=(standards_site.parent / ".alpha" / "store",))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def chromium():
    with headless_chromium(60) as driver:
        yield driver


RUN_AXE = """
const done = arguments[arguments.length - 1];
const summary = (v) => ({id: v.id, impact: v.impact, help: v.help,
                         nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" "))});
axe.run(document, {resultTypes: ["violations"]}).then(
  (results) => done(results.violations.map(summary)),
  (error) => done([{id: "axe-error", impact: "critical", help: String(error), nodes: []}]));
"""


def test_every_page_has_no_serious_axe_violations_in_light_and_dark(standards_site, served, chromium):
    if not AXE_JS.is_file():
        pytest.skip(f"needs {AXE_JS} (tools/test.sh installs axe-core)")
    axe = AXE_JS.read_text()
    found = []
    for scheme in ("light", "dark"):
        chromium.execute_cdp_cmd("Emulation.setEmulatedMedia",
                                 {"features": [{"name": "prefers-color-scheme", "value": scheme}]})
        for page in _pages(standards_site):
            path = page.relative_to(standards_site).as_posix()
            if path.endswith("/index.html") or path == "index.html":
                path = path[: -len("index.html")]
            if path.startswith("old/"):  # a redirect page (the checker above covers it)
                continue
            chromium.get(served + path)
            chromium.execute_script(axe)
            for violation in chromium.execute_async_script(RUN_AXE):
                if violation["impact"] in SERIOUS:
                    found.append(f"{scheme} /{path}: {violation['id']} ({violation['impact']}): "
                                 f"{violation['help']} at {violation['nodes']}")
    assert found == [], "\n".join(found)


WAIT_FOR_DURATION = """
const done = arguments[arguments.length - 1];
const video = document.querySelector("video");
const report = () => done(video.duration);
if (video.readyState >= 1) { report(); } else { video.addEventListener("loadedmetadata", report); }
setTimeout(() => done(null), 20000);
"""


def test_before_after_is_large_and_captioned_and_durations_match_the_player(standards_site, served, chromium):
    chromium.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    chromium.set_window_size(1280, 900)
    chromium.get(served + "episodes/ep02-the-seam/")
    figure = chromium.find_element("css selector", "#before-after figure")
    caption = figure.find_element("css selector", "figcaption").text
    assert "Left: LatentSync's stock paste-back. Middle: this episode's poisson blend." in caption
    image = figure.find_element("css selector", "img")
    chromium.execute_script("arguments[0].loading = 'eager'; arguments[0].scrollIntoView();", image)
    natural = chromium.execute_script("return arguments[0].getAttribute('width') | 0;", image)
    assert image.size["width"] >= min(natural, 900), (image.size, natural)  # not a thumbnail
    for episode in ("ep01-hello", "ep02-the-seam", "ep03-rain"):
        chromium.get(served + f"episodes/{episode}/")
        shown = chromium.find_element("css selector", ".episode-head .kicker").text.rsplit("·", 1)[-1].strip()
        duration = chromium.execute_async_script(WAIT_FOR_DURATION)
        assert duration, f"{episode}: the player did not load the video"
        minutes, seconds = divmod(int(duration), 60)  # players show whole seconds, cut
        assert shown == f"{minutes}:{seconds:02d}", (episode, shown, duration)
