"""Caption files: read and checked by webvtt-py (a real WebVTT parser); SRT converted to WebVTT."""

from __future__ import annotations

from pathlib import Path

import pytest
import webvtt

from pipeline.captions.cues import Cue, to_vtt, transcript_of
from pipeline.captions.files import CaptionsError, read_captions

VTT = """WEBVTT

NOTE written by hand

intro
00:00:00.500 --> 00:00:02.000 align:start
Hello, <i>world</i>.

00:00:02.000 --> 00:00:04.250
<v Host>This is the seam &amp; its fix.
"""

SRT = """1
00:00:00,500 --> 00:00:02,000
Hello, <i>world</i>.

2
00:00:02,000 --> 00:00:04,250
Two lines
of text.
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_webvtt_cues_keep_text_tags_and_times(tmp_path):
    cues = read_captions(write(tmp_path, "ep.vtt", VTT))
    assert cues == [Cue(0.5, 2.0, "Hello, <i>world</i>."),
                    Cue(2.0, 4.25, "<v Host>This is the seam &amp; its fix.")]
    assert transcript_of(cues) == "Hello, world. This is the seam & its fix."


def test_srt_is_converted_to_webvtt_that_the_parser_reads_back(tmp_path):
    cues = read_captions(write(tmp_path, "ep.srt", SRT))
    assert [(c.start, c.end) for c in cues] == [(0.5, 2.0), (2.0, 4.25)]
    converted = to_vtt(cues)
    parsed = webvtt.from_string(converted, strict=True)
    assert [(c.start, c.end, c.text) for c in parsed.captions] == [
        ("00:00:00.500", "00:00:02.000", "Hello, world."),
        ("00:00:02.000", "00:00:04.250", "Two lines\nof text."),
    ]
    assert read_captions(write(tmp_path, "back.vtt", converted)) == cues


@pytest.mark.parametrize("text, line, words", [
    ("WEBVTT\n\n00:00:01.000 --> 00:00:0x.000\nBad time\n", 3, "malformed cue"),
    ("Hello\n\n00:00:01.000 --> 00:00:02.000\nNo header\n", 1, "first line must be WEBVTT"),
    ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nfine\n\n00:00:05.000 --> 00:00:04.000\nbackwards\n",
     6, "must end after it starts"),
    ("WEBVTT\n\n00:00:03.000 --> 00:00:04.000\nlater\n\n00:00:01.000 --> 00:00:02.000\nearlier\n",
     6, "in order of their start times"),
    ("WEBVTT\n\nNOTE only a comment\n", 4, "no cues"),
])
def test_bad_webvtt_names_the_line(tmp_path, text, line, words):
    with pytest.raises(CaptionsError) as caught:
        read_captions(write(tmp_path, "ep.vtt", text), Path("captions/ep.vtt"))
    assert caught.value.line == line
    assert words in caught.value.message
    assert str(caught.value).startswith(f"captions/ep.vtt:{line}: ")


def test_srt_cue_the_reader_skips_is_reported_at_its_timing_line(tmp_path):
    # webvtt-py's SRT reader drops a block it cannot read; a dropped cue is an error here.
    path = write(tmp_path, "ep.srt", SRT + "\n3\n00:00:0y,000 --> 00:00:06,000\nbad digit\n\n"
                                          "4\n00:00:07,000 --> 00:00:08,000\nlast\n")
    with pytest.raises(CaptionsError) as caught:
        read_captions(path)
    assert caught.value.line == 11
    assert "not a cue" in caught.value.message


def test_not_utf8_and_wrong_suffix(tmp_path):
    latin = tmp_path / "ep.vtt"
    latin.write_bytes("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(CaptionsError, match=r"ep.vtt:4: not UTF-8"):
        read_captions(latin)
    with pytest.raises(CaptionsError, match="WebVTT .* or SubRip"):
        read_captions(write(tmp_path, "ep.txt", "hello"))


def test_srt_text_becomes_webvtt_cue_text(tmp_path):
    srt = "1\n00:00:01,000 --> 00:00:02,000\nR&D <b>bold</b> &amp; 1 < 2 &#38;\n"
    (cue,) = read_captions(write(tmp_path, "ep.srt", srt))
    assert cue.text == "R&amp;D <b>bold</b> &amp; 1 &lt; 2 &#38;"
    assert transcript_of([cue]) == "R&D bold & 1 < 2 &"
