"""STAND-IN for LatentSync's latentsync/utils/util.py (tests only; not LatentSync).

Same function names and behaviour that matters to an outside runner: `read_video` re-encodes
into ./temp of the working directory through the `ffmpeg` on PATH when change_fps is set,
`write_video` encodes at crf 13, `check_ffmpeg_installed` runs `ffmpeg -version`.
"""

import os
import shutil
import subprocess
import wave

import cv2
import numpy as np
import torch


def read_video(video_path: str, change_fps=True, use_decord=True):
    if change_fps:
        temp_dir = "temp"
        if os.path.exists(temp_dir):
            shutil.rmtree(temp_dir)
        os.makedirs(temp_dir, exist_ok=True)
        command = f"ffmpeg -loglevel error -y -nostdin -i {video_path} -r 25 -crf 18 {os.path.join(temp_dir, 'video.mp4')}"
        subprocess.run(command, shell=True)
        target_video_path = os.path.join(temp_dir, "video.mp4")
    else:
        target_video_path = video_path
    return read_video_cv2(target_video_path)


def read_video_cv2(video_path: str):
    capture = cv2.VideoCapture(video_path)
    if not capture.isOpened():
        print("Error: Could not open video.")
        return np.array([])
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return np.array(frames)


def read_wav_mono(path: str):
    """(float64 mono samples in [-1, 1], sample rate) of a 16-bit PCM WAV."""
    with wave.open(path, "rb") as handle:
        rate = handle.getframerate()
        channels = handle.getnchannels()
        data = np.frombuffer(handle.readframes(handle.getnframes()), "<i2").astype(np.float64) / 32768.0
    return data.reshape(-1, channels).mean(axis=1), rate


def read_audio(audio_path: str, audio_sample_rate: int = 16000):
    if audio_path is None:
        raise ValueError("Audio path is required.")
    samples, rate = read_wav_mono(audio_path)
    count = int(round(len(samples) * audio_sample_rate / rate))
    resampled = np.interp(np.arange(count) * rate / audio_sample_rate, np.arange(len(samples)), samples)
    return torch.from_numpy(resampled.astype(np.float32))


def write_video(video_output_path: str, video_frames: np.ndarray, fps: int):
    height, width = video_frames[0].shape[:2]
    command = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-c:v", "libx264",
               "-crf", "13", "-pix_fmt", "yuv420p", video_output_path]
    process = subprocess.Popen(command, stdin=subprocess.PIPE)
    for frame in video_frames:
        process.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
    process.stdin.close()
    process.wait()


def write_wav(path: str, samples, rate: int):
    data = np.clip(np.asarray(samples, dtype=np.float64), -1, 1)
    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(np.round(data * 32767).astype("<i2").tobytes())


def check_ffmpeg_installed():
    result = subprocess.run("ffmpeg -version", stdout=subprocess.PIPE, stderr=subprocess.PIPE, shell=True)
    if not result.returncode == 0:
        raise FileNotFoundError("ffmpeg not found (stand-in check, same as LatentSync's)")
