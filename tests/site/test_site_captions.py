"""Captions on the site: a <track> of a content-addressed WebVTT file (SRT converted), the
transcript under the video, JSON-LD `transcript` and `caption`; in Chromium the video exposes
the text track with its cues. WebVTT is checked with webvtt-py, a real parser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import webvtt

from pipeline.site.build import build_site
from pipeline.site.preview import Preview
from tests.site.common import TODAY
from tests.site.test_site_browser import browser, problems  # noqa: F401  (the Chromium fixture)

SRT = """1
00:00:00,400 --> 00:00:03,000
Hello, and welcome back.

2
00:00:03,000 --> 00:00:06,500
Today: <i>the seam</i> & how it went away.

3
00:00:06,500 --> 00:00:08,000
Thanks for watching.
"""
TRANSCRIPT = "The host says hello.\n\nA second paragraph, <not a tag>."


def with_captions(project: Path) -> Path:
    (project / "captions").mkdir()
    (project / "captions/ep02.srt").write_text(SRT)
    seam = project / "episodes/ep02-the-seam.yaml"
    seam.write_text(seam.read_text() + "captions: captions/ep02.srt\n")
    hello = project / "episodes/ep01-hello.yaml"
    hello.write_text(hello.read_text() + f"transcript: {json.dumps(TRANSCRIPT)}\nlanguage: en-GB\n")
    return project


def jsonld(html: str) -> dict:
    return json.loads(html.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0])


def test_episode_page_has_track_transcript_and_jsonld(demo):
    site = with_captions(demo) / "site"
    build_site(demo, today=TODAY)
    html = (site / "episodes/ep02-the-seam/index.html").read_text()
    track = re.search(r'<track kind="captions" src="\.\./\.\./(media/[0-9a-f]{16}\.vtt)" '
                      r'srclang="en" label="English" default>', html)
    assert track, html[html.index("<video"):html.index("</video>")]
    published = site / track.group(1)

    # The SRT became WebVTT that a real parser reads in strict mode, cue for cue.
    captions = webvtt.read(str(published), strict=True).captions
    assert [(c.start, c.end) for c in captions] == [
        ("00:00:00.400", "00:00:03.000"), ("00:00:03.000", "00:00:06.500"), ("00:00:06.500", "00:00:08.000")]
    # Markup kept; a bare & escaped, as WebVTT cue text needs.
    assert captions[1].raw_text == "Today: <i>the seam</i> &amp; how it went away."

    transcript = html.split('<section id="transcript"', 1)[1].split("</section>", 1)[0]
    assert "Hello, and welcome back. Today: the seam &amp; how it went away. Thanks for watching." in transcript
    assert '<a href="#transcript">Transcript</a>' in html

    data = jsonld(html)
    assert data["transcript"] == "Hello, and welcome back. Today: the seam & how it went away. Thanks for watching."
    assert data["caption"] == {"@type": "MediaObject", "contentUrl": "https://alpha.example.org/" + track.group(1),
                               "encodingFormat": "text/vtt", "inLanguage": "en"}

    # A transcript without captions: its paragraphs, escaped, in its language; no track.
    hello = (site / "episodes/ep01-hello/index.html").read_text()
    assert "<track" not in hello
    assert '<section id="transcript" class="transcript" aria-labelledby="transcript-title" lang="en-GB">' in hello
    assert "<p>The host says hello.</p>" in hello and "<p>A second paragraph, &lt;not a tag&gt;.</p>" in hello
    assert jsonld(hello)["transcript"] == "The host says hello.\n\nA second paragraph, <not a tag>."
    assert "caption" not in jsonld(hello)

    # Corrected captions get a new URL; the old file leaves the site.
    (demo / "captions/ep02.srt").write_text(SRT.replace("Thanks for watching", "Bye"))
    build_site(demo, today=TODAY)
    html = (site / "episodes/ep02-the-seam/index.html").read_text()
    new = re.search(r'src="\.\./\.\./(media/[0-9a-f]{16}\.vtt)"', html).group(1)
    assert new != track.group(1) and not published.exists()
    assert webvtt.read(str(site / new), strict=True).captions[-1].text == "Bye."


def test_a_caption_file_broken_after_the_check_fails_the_build_cleanly(demo):
    with_captions(demo)
    build_site(demo, today=TODAY)
    before = (demo / "site/episodes/ep02-the-seam/index.html").read_text()
    (demo / "captions/ep02.srt").write_text("1\n00:00:05,000 --> 00:00:04,000\nbackwards\n")
    from tests.helpers import run_alpha

    result = run_alpha("build", "site", "-C", str(demo))
    assert result.exit_code == 2
    assert "episodes/ep02-the-seam.yaml:" in result.stderr
    assert "captions: captions/ep02.srt:2: a cue must end after it starts" in result.stderr
    assert (demo / "site/episodes/ep02-the-seam/index.html").read_text() == before


FIRST_TRACK = """
const done = arguments[arguments.length - 1];
const video = document.querySelector("video");
const track = video && video.querySelector("track");
if (!track) { done({ok: false, why: "no track element"}); return; }
const report = () => {
  const text = video.textTracks[0];
  done({ok: true, kind: text.kind, language: text.language, label: text.label, mode: text.mode,
        ready: track.readyState,
        cues: [...(text.cues || [])].map(c => [c.startTime, c.endTime, c.text])});
};
if (track.readyState === 2) { report(); return; }
track.addEventListener("load", report);
track.addEventListener("error", () => done({ok: false, why: "track error", ready: track.readyState}));
setTimeout(() => done({ok: false, why: "timeout", ready: track.readyState}), 20000);
"""


def test_chromium_exposes_the_text_track_with_its_cues(browser, demo):  # noqa: F811
    with_captions(demo)
    server = Preview(demo, port=0, say=lambda message: None)
    server.start(watch=False)
    try:
        browser.get(server.url + "episodes/ep02-the-seam/")
        result = browser.execute_async_script(FIRST_TRACK)
    finally:
        server.stop()
    assert result["ok"], result
    assert (result["kind"], result["language"], result["label"], result["mode"]) == \
        ("captions", "en", "English", "showing")
    assert result["ready"] == 2  # LOADED
    assert result["cues"] == [[0.4, 3.0, "Hello, and welcome back."],
                              [3.0, 6.5, "Today: <i>the seam</i> &amp; how it went away."],
                              [6.5, 8.0, "Thanks for watching."]]
    assert problems(browser) == []
