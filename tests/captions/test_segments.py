"""From Whisper's output to cues: timestamp tokens split into segments, segments into cues."""

from __future__ import annotations

import pytest

from pipeline.captions.cues import Cue
from pipeline.captions.whisper import segments_to_cues

BEGIN, EOT = 1000, 999  # where timestamp tokens start, and the end-of-text token


class Tokenizer:
    """The three things the split reads from Whisper's tokenizer; text tokens decode to 'wN'."""

    timestamp_begin = BEGIN
    eot = EOT

    @staticmethod
    def decode(tokens):
        return " ".join(f"w{token}" for token in tokens)


def at(seconds: float) -> int:
    return BEGIN + round(seconds / 0.02)


@pytest.fixture(scope="module")
def split():
    pytest.importorskip("torch")  # the child module runs in LatentSync's Python, with torch
    from pipeline.captions.whisper_child import _split

    return _split


def test_complete_segments_and_an_unfinished_tail(split):
    tokens = [at(0.0), 1, 2, at(2.0), at(2.0), 3, at(4.5), at(4.5), 4, 5]
    segments, consumed = split(tokens, Tokenizer, 30.0)
    # The tail (4, 5) is cut by the window: the next window starts where the last segment ended.
    assert segments == [(0.0, 2.0, "w1 w2"), (2.0, 4.5, "w3")]
    assert consumed == 4.5


def test_a_window_without_a_closing_timestamp_runs_to_its_end(split):
    segments, consumed = split([at(0.4), 7, 8, 9, EOT, 5], Tokenizer, 12.5)
    assert segments == [(0.4, 12.5, "w7 w8 w9")] and consumed is None
    segments, consumed = split([at(0.0), at(0.0), EOT], Tokenizer, 12.5)
    assert segments == [] and consumed is None


def test_timestamps_past_the_window_are_clipped(split):
    segments, _ = split([at(1.0), 1, at(29.0), EOT], Tokenizer, 10.0)
    assert segments == [(1.0, 10.0, "w1")]


def test_segments_become_cues_inside_the_voice_in_order_with_text():
    segments = [{"start": 3.0, "end": 5.0, "text": " second --> <b>"},
                {"start": -0.5, "end": 3.2, "text": " first & more "},
                {"start": 5.0, "end": 5.02, "text": "blink"},       # too short to read
                {"start": 6.0, "end": 9.0, "text": "   "},          # no words
                {"start": 8.0, "end": 14.0, "text": "last"}]
    assert segments_to_cues(segments, duration=10.0) == [
        Cue(0.0, 3.2, "first &amp; more"), Cue(3.2, 5.0, "second --&gt; &lt;b&gt;"), Cue(8.0, 10.0, "last")]
