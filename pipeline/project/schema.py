"""The manifest schema: every key `alpha.yaml` and `episodes/*.yaml` may hold, in one place.

Paths in manifests are relative to the project root. Episode settings (everything in
`EpisodeSettings`) may be given in `alpha.yaml` under `defaults:`, implied by named fixes, and
overridden at the top level of an episode file, in that order.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# An old URL path that `aliases:` keeps working: printable, no query, fragment or escapes.
_ALIAS_CHARS = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@/-]+$")


def alias_problem(value: str) -> str | None:
    """Why `value` cannot be an alias (a site path like /video/old-name.mp4), or None."""
    path = value.strip("/")
    if not path:
        return f"alias {value!r} is the site's root"
    if not _ALIAS_CHARS.match(value):
        return (f"alias {value!r} may hold only letters, digits and - . _ ~ / "
                "(no spaces, query, fragment or %-escapes)")
    if any(part in ("", ".", "..") for part in path.split("/")):
        return f"alias {value!r} has an empty, '.' or '..' segment"
    return None


def _alias(value: str) -> str:
    problem = alias_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# One alias; a list of them reports a bad one at its own index (aliases[1]).
AliasPath = Annotated[str, AfterValidator(_alias)]
FIX_ID = re.compile(r"^[A-Z][A-Z0-9]*-\d+$")
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")  # BCP 47, as srclang takes it

Blend = Literal["poisson", "seamless", "alpha"]
Backend = Literal["latentsync", "preview", "none"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- episode settings (the fix stack lives here) -------------------------------------------


class FluxSettings(Strict):
    """Restyle the reference image with Flux img2img before lip-sync."""

    enabled: bool = False
    strength: float = Field(0.5, ge=0.0, le=1.0)
    prompt: str = ""
    seed: int = Field(0, ge=0)
    steps: int = Field(28, ge=1, le=200)
    guidance: float = Field(3.5, ge=0.0, le=50.0)


class SourceSettings(Strict):
    image: str | None = None
    video: str | None = None
    flux: FluxSettings = FluxSettings()

    @model_validator(mode="after")
    def _one_source(self) -> "SourceSettings":
        if (self.image is None) == (self.video is None):
            raise ValueError("give exactly one of source.image or source.video")
        if self.video is not None and self.flux.enabled:
            raise ValueError("source.flux restyles a still image; it cannot be enabled with source.video")
        return self


def _checkpoint_version(value: Any) -> Any:
    # YAML reads an unquoted 1.6 as a float; the registry is keyed by the version string.
    if isinstance(value, float):
        return repr(value)
    return value


class LipsyncSettings(Strict):
    backend: Backend = "none"
    checkpoint: str = "1.6"
    steps: int = Field(20, ge=1, le=200)
    guidance: float = Field(1.5, ge=0.0, le=20.0)
    seed: int = Field(1247, ge=0)
    deepcache: bool = False
    # Strength of the colour drift the preview backend adds to its generated mouth, as the
    # real model's VAE output shows; lets the fix stack be judged without a GPU.
    drift: float = Field(0.08, ge=0.0, le=1.0)
    # GPUs one lip-sync job holds; unset: 1 for latentsync, 0 (a CPU slot) for preview and
    # none. Where the job runs, never what it makes: not part of any stage key.
    gpus: int | None = Field(None, ge=0, le=1)

    _version = field_validator("checkpoint", mode="before")(_checkpoint_version)

    @property
    def gpus_per_job(self) -> int:
        if self.gpus is not None:
            return self.gpus
        return 1 if self.backend == "latentsync" else 0


class RestoreSettings(Strict):
    """Paste-back of the generated crop (see `pipeline.restore.Restorer`)."""

    blend: Blend = "poisson"
    blur: int = Field(0, ge=0, le=255)
    erode: int = Field(0, ge=0, le=255)


class FoleyTrack(Strict):
    path: str
    gain_db: float = Field(-12.0, ge=-60.0, le=12.0)


class AudioSettings(Strict):
    voice: str
    voice_gain_db: float = Field(0.0, ge=-60.0, le=12.0)
    foley: tuple[FoleyTrack, ...] = ()
    duck_db: float = Field(6.0, ge=0.0, le=40.0)


class VideoSettings(Strict):
    fps: int = Field(25, ge=1, le=120)
    width: int = Field(1280, ge=16, le=7680, multiple_of=2)
    height: int = Field(720, ge=16, le=4320, multiple_of=2)
    crf: int = Field(20, ge=0, le=51)
    # x264's speed/size trade-off; the quality is set by crf. veryfast keeps a 1080p preview
    # render real-time on two cores, slower presets make smaller files of the same quality.
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
                    "veryslow"] = "veryfast"


class ProofSettings(Strict):
    at: tuple[Annotated[float, Field(ge=0.0)], ...] = (5.0,)

    @field_validator("at", mode="before")
    @classmethod
    def _single(cls, value: Any) -> Any:
        return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value


class QualityGate(Strict):
    """Limits on a render's quality figures; a render that exceeds one fails. None = no limit."""

    # Mean colour step across a seam, grey levels. 1.0 is measured (bench/seam_gate_bench.py):
    # fixed paste-backs score at most 0.4 on the demo and the restore scenes, stock at least 2.0.
    seam_max: float | None = Field(1.0, ge=0.0)
    flicker_max: float | None = Field(None, ge=0.0)  # mean change of that step between frames
    fallbacks_max: int | None = Field(0, ge=0)  # frames pasted back by a fallback path
    faces_missed_max: float | None = Field(0.05, ge=0.0, le=1.0)  # fraction of frames without a face


class EpisodeSettings(Strict):
    """What `defaults:` may set and an episode may override."""

    source: SourceSettings
    lipsync: LipsyncSettings = LipsyncSettings()
    restore: RestoreSettings = RestoreSettings()
    audio: AudioSettings
    video: VideoSettings = VideoSettings()
    proof: ProofSettings = ProofSettings()
    # The poster (catalog card, <video poster>, og:image): the frame at this second of the
    # finished video; unset, the first proof frame. A change re-runs only the proof stage.
    poster_at: float | None = Field(None, ge=0.0)
    # The shortest voice track (seconds) an episode may have: a shorter one is a mistake (a
    # truncated or placeholder file), refused before any stage runs.
    min_duration: float = Field(1.0, gt=0.0, le=86400.0)
    quality: QualityGate = QualityGate()
    fixes: tuple[str, ...] = ()
    # What the site publishes beside the video; never part of a render's key.
    captions: str | None = None  # a WebVTT (.vtt) or SubRip (.srt) file; SRT is converted
    transcript: str | None = None  # the text under the video (default: the captions' text)
    language: str = "en"  # spoken in the episode: the captions' srclang, Whisper's language

    @field_validator("captions")
    @classmethod
    def _caption_file(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().endswith((".vtt", ".srt")):
            raise ValueError(f"{value!r} is not a caption file: give a WebVTT (.vtt) or SubRip (.srt) file")
        return value

    @field_validator("transcript")
    @classmethod
    def _transcript_text(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("the transcript is empty: give its text, or leave the key out")
        return value

    @field_validator("language")
    @classmethod
    def _language_tag(cls, value: str) -> str:
        if not LANGUAGE_TAG.match(value):
            raise ValueError(f"{value!r} is not a language tag like en, ru or pt-BR")
        return value


class Episode(EpisodeSettings):
    id: str
    title: str = Field(min_length=1)
    date: dt.date
    description: str = ""
    tags: tuple[str, ...] = ()
    draft: bool = False
    aliases: tuple[AliasPath, ...] = ()  # old URLs of the page or of the video (.mp4) that keep working

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError(
                f"{value!r} is not a safe slug: use lowercase letters, digits and inner hyphens"
            )
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from ..slugs import slugify

        for tag in value:
            if not slugify(tag):
                raise ValueError(f"tag {tag!r} has no letters or digits, so it cannot have a page")
        return value


EPISODE_ONLY_KEYS = frozenset({"id", "title", "date", "description", "tags", "draft", "aliases"})

# Stage parameters whose change alters no pixel or sample of the episode's video, so that
# `alpha accept` may record them as rendered. Titles, descriptions, tags, dates and drafts are
# not stage parameters at all: editing them never makes an episode stale.
COSMETIC_PARAMS = frozenset({"proof.at"})


# --- project settings ----------------------------------------------------------------------


class Checkpoint(Strict):
    """One LatentSync release: its UNet config and checkpoint travel together."""

    config: str
    checkpoint: str
    resolution: Literal[256, 512]


DEFAULT_CHECKPOINTS = {
    "1.5": Checkpoint(
        config="configs/unet/stage2.yaml",
        checkpoint="checkpoints/latentsync-1.5/latentsync_unet.pt",
        resolution=256,
    ),
    "1.6": Checkpoint(
        config="configs/unet/stage2_512.yaml",
        checkpoint="checkpoints/latentsync-1.6/latentsync_unet.pt",
        resolution=512,
    ),
}


class LatentSyncSettings(Strict):
    root: str | None = None
    python: str | None = None
    checkpoints: dict[str, Checkpoint] = DEFAULT_CHECKPOINTS

    @field_validator("checkpoints", mode="before")
    @classmethod
    def _keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {_checkpoint_version(k) if not isinstance(k, str) else k: v for k, v in value.items()}
        return value


class FluxModelSettings(Strict):
    model: str | None = None
    device: str = "auto"


class NamedFix(Strict):
    id: str
    layer: Literal["source", "lipsync", "restore", "audio", "video"]
    title: str = Field(min_length=1)
    settings: dict[str, Any] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _fix_id(cls, value: str) -> str:
        if not FIX_ID.match(value):
            raise ValueError(f"{value!r} is not a fix id like TASK-099")
        return value


class SiteSettings(Strict):
    url: str = "http://localhost:8000/"
    title: str = "alpha"
    description: str = ""
    output: str = "site"
    # Media in the built site as real files (hard links into the store where the file system
    # allows, else copies) instead of symlinks: a site that `cp -r` or any host can take.
    portable: bool = False

    @field_validator("url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        return absolute_url(value)


def absolute_url(value: str) -> str:
    """An absolute http(s) URL with a host, ending in `/`."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a usable URL ({exc})") from None
    if (parts.scheme not in ("http", "https") or not parts.hostname
            or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value)):
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    return value if value.endswith("/") else value + "/"


def _no_option_or_control(value: str | None, what: str) -> str | None:
    # ssh and rsync would read a leading `-` as an option; whitespace and control characters
    # have no place in a host or user name.
    if value is not None and (value.startswith("-") or not value
                              or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value)):
        raise ValueError(f"{value!r} is not a usable {what}: it may not start with '-' "
                         "or hold spaces or control characters")
    return value


class DeployTarget(Strict):
    kind: Literal["local", "rsync"]
    path: str = Field(min_length=1)
    host: str | None = None
    user: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    url: str | None = None
    keep: int = Field(5, ge=1, le=1000)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        return _no_option_or_control(value, "host name")

    @field_validator("user")
    @classmethod
    def _user(cls, value: str | None) -> str | None:
        return _no_option_or_control(value, "user name")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError(f"{value!r} holds control characters")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            absolute_url(value)  # validates; the URL is used as written
        return value

    @model_validator(mode="after")
    def _host_for_rsync(self) -> "DeployTarget":
        if self.kind == "rsync" and not self.host:
            raise ValueError("an rsync target needs a host")
        return self


class DeploySettings(Strict):
    default: str | None = None
    targets: dict[str, DeployTarget] = {}


HOST_PORT = re.compile(r"^(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})$")


def check_host_port(value: str) -> str:
    """A cluster address as HOST:PORT (a name, an IPv4 address or a bracketed IPv6 one)."""
    match = HOST_PORT.match(value.strip())
    if not match or not 1 <= int(match["port"]) <= 65535:
        raise ValueError(f"{value!r} is not an address like HOST:PORT (for example 10.0.0.5:6379)")
    return value.strip()


class ClusterSettings(Strict):
    """Where `alpha render` sends its lip-sync jobs; `--cluster ADDRESS` overrides, `--local` ignores."""

    kind: Literal["ray"]
    address: str

    _address = field_validator("address")(check_host_port)


class HostLatentSync(Strict):
    # The weights live in <root>/checkpoints, where LatentSync's own code looks for them.
    root: str | None = None
    python: str | None = None


class HostSettings(Strict):
    """A render host's own settings (the host file a cluster worker reads), not the project's.

    Found through ALPHA_HOST_FILE, else ~/.config/alpha/host.yaml; every key may be left out.
    """

    name: str | None = None  # how progress and `render --json` name this host (default: Ray node id)
    cache: str = "~/.cache/alpha/cluster"  # inputs and outputs by content hash
    latentsync: HostLatentSync = HostLatentSync()
    # SIMULATION for tests and benchmarks on machines without a GPU: every lip-sync job on this
    # host also holds its slot this many seconds, as a GPU's model time would.
    simulated_gpu_seconds: float = Field(0.0, ge=0.0, le=3600.0)


class ProjectSettings(Strict):
    name: str = "alpha"
    site: SiteSettings = SiteSettings()
    latentsync: LatentSyncSettings = LatentSyncSettings()
    flux: FluxModelSettings = FluxModelSettings()
    fixes: tuple[NamedFix, ...] = ()
    defaults: dict[str, Any] = {}
    deploy: DeploySettings = DeploySettings()
    cluster: ClusterSettings | None = None
