"""Argument and filter snippets shared by the encoders and decoders."""

from __future__ import annotations

from fractions import Fraction

# x264 writes its thread count into the stream (an SEI), and frame threading changes the
# bitstream, so a fixed count keeps output byte-identical across machines.
X264_THREADS = 8

# BT.709 limited range, converted explicitly and tagged, so players treat HD and SD output
# alike and decoding back to RGB inverts exactly what encoding did.
COLOUR_ARGS = ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
               "-color_range", "tv"]
TO_YUV420 = "scale=out_color_matrix=bt709:out_range=tv:flags=accurate_rnd,format=yuv420p"

# Keep files free of dates, versions and inherited tags: outputs are stored by content.
BITEXACT_ARGS = ["-map_metadata", "-1", "-map_chapters", "-1", "-fflags", "+bitexact",
                 "-flags:v", "+bitexact", "-flags:a", "+bitexact"]


def frame_rate(fps: float) -> Fraction:
    """The exact rate meant by `fps`: 25 stays 25, 29.97 becomes 30000/1001."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return Fraction(fps).limit_denominator(1001)


def rate(fps: float) -> str:
    """`fps` as an ffmpeg rational string."""
    frac = frame_rate(fps)
    return f"{frac.numerator}/{frac.denominator}"


def frame_count(duration: float, fps: float) -> int:
    """Frames in `duration` seconds at `fps`, rounded to the nearest frame (at least 1)."""
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    return max(1, round(duration * frame_rate(fps)))


def check_even(width: int, height: int) -> None:
    """yuv420p subsamples chroma 2×2, so H.264 output needs even sides."""
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"size must be positive and even for yuv420p, got {width}x{height}")


def fit(size: tuple[int, int] | None) -> str:
    """Filter that fits frames to `size` (w, h) by cover: scale to fill, centre-crop the
    overflow. None keeps the size, cropping one pixel off an odd side."""
    if size is None:
        return "crop=trunc(iw/2)*2:trunc(ih/2)*2"
    w, h = size
    check_even(w, h)
    # Aspect in display pixels (sar), so anamorphic sources are not stretched.
    return (f"scale=w='max({w}\\,ceil(iw*sar*{h}/ih))':h='max({h}\\,ceil(ih*{w}/(iw*sar)))'"
            f":flags=lanczos+accurate_rnd,crop={w}:{h},setsar=1")


# Lossless RGB video (FFV1 on bgr0): a decode returns exactly the RGB bytes encoded. On
# generated 1.6 crops (bench/restore_stage_bench.py) it is smaller than libx264rgb at qp 0 and
# three times quicker to encode, and H.264 yuv420p even at crf 12 stays under 50 dB PSNR.
LOSSLESS_RGB_ARGS = ["-an", "-c:v", "ffv1", "-level", "3", "-pix_fmt", "bgr0",
                     "-threads", str(X264_THREADS), *BITEXACT_ARGS]
# The container of lossless RGB video (MP4 does not carry FFV1).
LOSSLESS_RGB_SUFFIX = ".mkv"


X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def x264_args(crf: int, preset: str = "medium") -> list[str]:
    """Output options for silent H.264 yuv420p video (`preset`: one of X264_PRESETS)."""
    if preset not in X264_PRESETS:
        raise ValueError(f"unknown x264 preset {preset!r}")
    return ["-an", "-c:v", "libx264", "-preset", preset, "-crf", str(crf),
            "-threads", str(X264_THREADS), *COLOUR_ARGS, *BITEXACT_ARGS]
