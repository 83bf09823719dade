"""Media that cannot make an episode is refused when the plan is made, before any stage runs,
naming the manifest file, line and key; video sources of every shape render end to end."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import pytest

from pipeline.media import ffmpeg_exe, probe
from tests.helpers import run_alpha

EPISODE = "ep01-hello"


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


def _short_wav(path: Path, seconds: float) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\1" * int(16000 * seconds))


def _refused(root: Path, *expected: str) -> str:
    store = sorted((root / ".alpha/store").rglob("*"))
    lock = (root / "alpha.lock").read_bytes()
    result = run_alpha("-C", str(root), "render", EPISODE)
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr and "ffmpeg -" not in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    assert sorted((root / ".alpha/store").rglob("*")) == store  # no stage ran
    assert (root / "alpha.lock").read_bytes() == lock
    return result.stderr


def _stale(root: Path) -> None:
    path = root / "episodes" / f"{EPISODE}.yaml"
    path.write_text(path.read_text() + "video: {crf: 31}\n")


def test_truncated_voice_is_refused(demo):
    voice = demo / "media/ep01-voice.wav"
    data = voice.read_bytes()
    voice.write_bytes(data[:44 + 1600])  # the header still promises 7 s
    _refused(demo, "episodes/ep01-hello.yaml:", "audio.voice: media/ep01-voice.wav lasts 0.", "min_duration")


def test_short_voice_is_refused_and_the_minimum_is_a_setting(demo):
    _short_wav(demo / "media/ep01-voice.wav", 0.1)
    _refused(demo, "audio.voice", "less than min_duration (1 s)")
    path = demo / "episodes" / f"{EPISODE}.yaml"
    path.write_text(path.read_text().replace("at: [2, 5]", "at: [0]") + "min_duration: 0.05\n")
    result = run_alpha("-C", str(demo), "render", EPISODE)
    assert "min_duration" not in result.stderr


def test_proof_time_past_the_end_is_refused_at_its_line(demo):
    path = demo / "episodes" / f"{EPISODE}.yaml"
    path.write_text(path.read_text().replace("at: [2, 5]", "at: [2, 50]"))
    lines = path.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "at: [2, 50]" in text)
    _refused(demo, f"episodes/ep01-hello.yaml:{line}: proof.at: 50 s is past the end")


@pytest.mark.parametrize("key,target,content,message", [
    ("audio.voice", "media/ep01-voice.wav", b"RIFF\x00\x00garbage" * 50, "cannot be decoded"),
    ("audio.foley[0]", "media/room.wav", b"\x00" * 3000, "cannot be decoded"),
    ("source.image", "media/portrait.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", "cannot be decoded"),
])
def test_undecodable_input_names_file_and_key_and_keeps_the_argv_in_a_log(demo, key, target, content, message):
    (demo / target).write_bytes(content)
    stderr = _refused(demo, f"{key}: {target} {message}", "details in .alpha/logs/media-")
    log = demo / stderr.split("details in ")[1].split(")")[0]
    assert "ffmpeg" in log.read_text()


def test_wrong_kind_of_file_is_refused(demo):
    (demo / "media/ep01-voice.wav").write_bytes((demo / "media/portrait.jpg").read_bytes())
    (demo / "media/portrait.jpg").write_bytes((demo / "media/room.wav").read_bytes())
    _refused(demo, "audio.voice: media/ep01-voice.wav has no audio stream",
             "source.image: media/portrait.jpg has no video stream")


def test_unchanged_inputs_are_decoded_once(demo):
    _stale(demo)
    assert run_alpha("-C", str(demo), "render", EPISODE).exit_code == 0
    cache = json.loads((demo / ".alpha/cache/media-checks.json").read_text())["entries"]
    assert len(cache) >= 3 and all(entry["error"] is None for entry in cache.values())


# --- video sources end to end ---------------------------------------------------------------

CLIPS = {
    "rotated": ["-display_rotation", "90", "-loop", "1", "-i", "{portrait}", "-t", "3", "-r", "25",
                "-pix_fmt", "yuv420p", "{out}.mp4"],
    "variable-rate": ["-loop", "1", "-i", "{portrait}", "-t", "3", "-vf",
                      "fps=25,setpts='N/25/TB+0.013*mod(N,3)/TB'", "-fps_mode", "passthrough",
                      "-pix_fmt", "yuv420p", "{out}.mkv"],
    "odd-size": ["-loop", "1", "-i", "{portrait}", "-t", "3", "-r", "25", "-vf", "scale=333:251",
                 "-c:v", "libx264", "-pix_fmt", "yuv444p", "{out}.mp4"],
}


@pytest.mark.parametrize("kind", sorted(CLIPS))
def test_video_source_renders_and_builds(demo, kind):
    portrait = demo / "media/portrait.jpg"
    out = demo / "media" / f"clip-{kind}"
    _ffmpeg(*[arg.format(portrait=portrait, out=out) for arg in CLIPS[kind]])
    clip = next(demo.glob(f"media/clip-{kind}.*"))
    path = demo / "episodes" / f"{EPISODE}.yaml"
    path.write_text(path.read_text().replace("image: media/portrait.jpg", f"video: media/{clip.name}"))
    result = run_alpha("-C", str(demo), "render", EPISODE)
    assert result.exit_code == 0, result.stderr
    result = run_alpha("-C", str(demo), "build", "site")
    assert result.exit_code == 0, result.stderr
    entry = json.loads((demo / "alpha.lock").read_text())["episodes"][EPISODE]
    video = probe(demo / entry["stages"]["mux"]["outputs"]["video"]["path"])
    assert (video.width, video.height) == (640, 640)
    assert abs(video.duration - probe(demo / "media/ep01-voice.wav").duration) < 0.1
    assert (demo / "site/episodes" / EPISODE / "index.html").is_file()
