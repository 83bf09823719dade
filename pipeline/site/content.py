"""Episodes as the site shows them: from the lock (what was rendered, its history and
figures), the plan (is the render out of date?) and the fix stack (which named fixes hold,
and which of today's stack are missing)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from ..plan.plan import EpisodePlan, Reason
from ..project.model import Project, ResolvedEpisode
from ..project.schema import NamedFix
from ..report import render_seconds
from .captions import CaptionTrack, episode_captions
from .media import Image, Media

_PROOF_NAME = re.compile(r"^(?P<kind>[A-Za-z][\w-]*)@(?P<seconds>\d+(?:\.\d+)?)s$")
# Kinds shown first, in this order; any other kind follows alphabetically.
KIND_ORDER = {"frame": 0, "face": 1, "compare": 2}
KIND_LABELS = {"frame": "Full frame", "face": "Face crop", "compare": "Before / after"}
COMPARE_KINDS = {"compare"}
POSTER_KIND = "poster"

# What some quality figures mean; any other numeric figure is shown with its key as label.
FIGURE_NOTES = {
    "lipsync.frames": "frames rendered",
    "restore.frames": "frames restored",
    "frames": "frames",
    "fallbacks": "frames that fell back to the stock paste-back",
    "faces_missed": "frames in which no face was found",
    "seam_rect_mean": "mean colour step across the edge of the pasted rectangle (lower is better)",
    "seam_inner_mean": "mean colour step across the edge of the mouth mask (lower is better)",
    "seam_temporal_mean": "mean frame-to-frame flicker along the seams (lower is better)",
    "seam_rect_max": "largest colour step across the edge of the pasted rectangle",
    "seam_inner_max": "largest colour step across the edge of the mouth mask",
    "seam_temporal_max": "largest frame-to-frame flicker along the seams",
    "faces_held": "frames that reused the last face position",
    "ms_mean": "mean paste-back time per frame, in milliseconds",
    "seconds": "time the stage took, in seconds",
    "fps": "frames processed per second",
}


@dataclass(frozen=True)
class ProofImage:
    name: str                 # the output name, e.g. "compare@5s"
    kind: str
    label: str
    seconds: float | None
    full: Image               # the stored PNG
    view: Image               # a JPEG for the page

    @property
    def at(self) -> str:
        return clock(self.seconds) if self.seconds is not None else ""


@dataclass(frozen=True)
class ProofGroup:
    seconds: float | None
    label: str                # "0:05"
    images: tuple[ProofImage, ...]


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: str
    note: str


@dataclass(frozen=True)
class Version:
    number: int
    at: dt.datetime | None
    action: str
    changes: tuple[str, ...]


@dataclass
class SiteEpisode:
    id: str
    title: str
    date: dt.date
    description: str
    tags: tuple[str, ...]
    draft: bool
    scheduled: bool
    version: int
    rendered_at: dt.datetime | None
    video: str                 # content-addressed site path
    stable_video: str          # episodes/<id>/video.mp4
    video_bytes: int
    duration: float | None
    width: int | None
    height: int | None
    fps: float | None
    poster: Image | None
    thumb: Image | None
    proofs: list[ProofGroup]
    comparisons: list[ProofGroup]
    fixes: list[NamedFix]      # named fixes that hold for the episode
    missing: list[NamedFix]    # of today's stack, those that do not
    out_of_date: list[str]     # why the plan would re-render it (empty when up to date)
    quality: list[Figure]
    details: list[tuple[str, str]]
    history: list[Version]
    posts: list[Any] = field(default_factory=list)
    captions: CaptionTrack | None = None
    transcript: tuple[str, ...] = ()  # paragraphs
    language: str = "en"
    previous: "SiteEpisode | None" = None
    next: "SiteEpisode | None" = None
    aliases: tuple[str, ...] = ()  # old URLs: of the page (redirects) or of the video
    headlines: list[Any] = field(default_factory=list)  # quality.Headline: the figures in plain words
    blend: str | None = None       # the paste-back's blend, for the before/after caption

    @property
    def path(self) -> str:
        return f"episodes/{self.id}/"

    @property
    def behind(self) -> bool:
        return bool(self.missing)

    @property
    def current(self) -> bool:
        return not self.missing and not self.out_of_date

    @property
    def published_at(self) -> dt.datetime:
        return dt.datetime(self.date.year, self.date.month, self.date.day, tzinfo=dt.timezone.utc)

    @property
    def updated_at(self) -> dt.datetime:
        return max(self.published_at, self.rendered_at or self.published_at)

    @property
    def summary(self) -> str:
        return self.description or self.title


def todays_stack(project: Project) -> list[NamedFix]:
    """The named fixes listed in alpha.yaml `defaults.fixes`, in their order."""
    listed = project.settings.defaults.get("fixes") or ()
    by_id = {fix.id: fix for fix in project.settings.fixes}
    return [by_id[name] for name in listed if name in by_id]


def rendered_video(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    if not entry:
        return None
    return ((entry.get("stages") or {}).get("mux") or {}).get("outputs", {}).get("video")


class FixStacks:
    """`project.fixes_applying_to`, remembered: episodes whose values at every key a named fix
    sets are the same (and whose source is of the same kind) carry the same fixes."""

    def __init__(self, project: Project):
        self.project = project
        self.keys = sorted({key for fix in project.settings.fixes for key in fix.settings})
        self._known: dict[tuple, list[NamedFix]] = {}

    def of(self, episode: Any) -> list[NamedFix]:
        signature = (episode.source.video is None, *(repr(_value_at(episode, key)) for key in self.keys))
        if signature not in self._known:
            self._known[signature] = self.project.fixes_applying_to(episode)
        return self._known[signature]


def _value_at(model: Any, key: str) -> Any:
    for part in key.split("."):
        model = getattr(model, part, None)
    return model


def site_episode(project: Project, resolved: ResolvedEpisode, entry: dict[str, Any], plan: EpisodePlan | None,
                 media: Media, stack: list[NamedFix], today: dt.date,
                 fix_stacks: FixStacks | None = None) -> SiteEpisode:
    settings = resolved.settings
    what = f"episode {resolved.id}"
    stages = entry.get("stages") or {}
    video_output = rendered_video(entry)
    video = media.add(video_output["path"], video_output["hash"], what)
    stable = media.alias(f"episodes/{resolved.id}/video.mp4", video_output["path"], video_output["hash"], what)
    mux = stages.get("mux") or {}
    metrics = mux.get("metrics") or {}
    proof_stage = stages.get("proof") or {}
    proofs, comparisons, poster_name = _proofs(proof_stage, media, what)
    poster = thumb = None
    if poster_name is not None:
        poster = _display(proof_stage, poster_name, "view", media, what)
        thumb = _display(proof_stage, poster_name, "thumb", media, what)
    applying = fix_stacks.of(settings) if fix_stacks is not None else project.fixes_applying_to(settings)
    applying_ids = {fix.id for fix in applying}
    captions, transcript = episode_captions(project, resolved)
    return SiteEpisode(
        id=resolved.id, title=settings.title, date=settings.date, description=settings.description,
        tags=settings.tags, draft=settings.draft, scheduled=settings.date > today,
        version=int(entry.get("version") or 0), rendered_at=parse_time(entry.get("rendered_at")),
        video=video, stable_video=stable, video_bytes=media.size(video),
        duration=_number(metrics.get("duration")), width=_int(metrics.get("width")),
        height=_int(metrics.get("height")), fps=_number(metrics.get("fps")),
        poster=poster, thumb=thumb, proofs=proofs, comparisons=comparisons,
        fixes=applying, missing=[fix for fix in stack if fix.id not in applying_ids],
        out_of_date=[describe_reason(reason) for reason in plan.reasons] if plan is not None and plan.stale else [],
        quality=quality_figures(stages), details=_details(stages, metrics, render_seconds(project, entry)),
        history=_history(entry),
        aliases=settings.aliases,
        captions=captions, transcript=transcript, language=settings.language,
    )


def _display(proof_stage: dict[str, Any], name: str, view: str, media: Media, what: str) -> Image:
    """The render's own display copy of a proof image, or one made (once) from the original."""
    outputs = proof_stage.get("outputs") or {}
    sizes = (proof_stage.get("metrics") or {}).get("sizes") or {}
    made = outputs.get(f"{name}:{view}")
    if made is not None:
        size = sizes.get(f"{name}:{view}")
        return media.image(made["path"], made["hash"], what, tuple(size) if size else None)
    original = outputs[name]
    return media.variant(original["path"], original["hash"], view, what)


def _proofs(proof_stage: dict[str, Any], media: Media, what: str):
    images: list[ProofImage] = []
    poster_name = None
    poster_key = None
    sizes = (proof_stage.get("metrics") or {}).get("sizes") or {}
    chosen_poster = None
    for name, output in (proof_stage.get("outputs") or {}).items():
        if ":" in name:
            continue  # a display copy, shown in place of its original
        match = _PROOF_NAME.match(name)
        kind = match["kind"] if match else name
        if kind == POSTER_KIND:
            chosen_poster = name  # the episode's poster_at frame: the poster, not a proof
            continue
        seconds = float(match["seconds"]) if match else None
        size = sizes.get(name)
        full = media.image(output["path"], output["hash"], what, tuple(size) if size else None)
        view = _display(proof_stage, name, "view", media, what)
        images.append(ProofImage(name, kind, KIND_LABELS.get(kind, kind.replace("-", " ").replace("_", " ").capitalize()),
                                 seconds, full, view))
        if kind == "frame":
            key = (seconds if seconds is not None else float("inf"), name)
            if poster_key is None or key < poster_key:
                poster_key, poster_name = key, name
    if chosen_poster is not None:
        poster_name = chosen_poster
    if poster_name is None:
        # No full frame: the first image that is not a comparison will do.
        candidates = [(image.seconds or 0.0, image.name) for image in images if image.kind not in COMPARE_KINDS]
        if candidates:
            poster_name = min(candidates)[1]

    def grouped(selected: list[ProofImage]) -> list[ProofGroup]:
        times = sorted({image.seconds for image in selected}, key=lambda s: (s is None, s or 0.0))
        groups = []
        for seconds in times:
            members = sorted((image for image in selected if image.seconds == seconds),
                             key=lambda image: (KIND_ORDER.get(image.kind, 99), image.kind))
            groups.append(ProofGroup(seconds, clock(seconds) if seconds is not None else "Other", tuple(members)))
        return groups

    proofs = grouped([image for image in images if image.kind not in COMPARE_KINDS])
    comparisons = grouped([image for image in images if image.kind in COMPARE_KINDS])
    return proofs, comparisons, poster_name


def quality_figures(stages: dict[str, Any]) -> list[Figure]:
    """Every numeric figure the lip-sync, restore (and source) stages reported."""
    figures: list[Figure] = []
    for stage in ("lipsync", "restore", "source"):
        metrics = (stages.get(stage) or {}).get("metrics") or {}
        if stage == "restore" and "blend" not in metrics:
            continue  # nothing was pasted back (backend `none`, or no face anywhere)
        for key, value in _numbers(metrics):
            if stage == "lipsync" and key == "duration":
                continue  # shown with the details
            leaf = key.rsplit(".", 1)[-1]
            note = FIGURE_NOTES.get(f"{stage}.{key}") or FIGURE_NOTES.get(key) or FIGURE_NOTES.get(leaf, "")
            label = key.replace("_", " ").replace(".", ": ")
            figures.append(Figure(f"{stage}.{key}", label[:1].upper() + label[1:],
                                  format_number(value), note))
    return figures


def _numbers(metrics: dict[str, Any], prefix: str = ""):
    for key in sorted(metrics):
        value = metrics[key]
        if isinstance(value, dict):
            yield from _numbers(value, f"{prefix}{key}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
            yield f"{prefix}{key}", value


def format_number(value: float) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.4g}"


def _details(stages: dict[str, Any], metrics: dict[str, Any], seconds: float | None) -> list[tuple[str, str]]:
    details = []
    if metrics.get("width") and metrics.get("height"):
        details.append(("Resolution", f"{metrics['width']}×{metrics['height']}"))
    if metrics.get("fps"):
        details.append(("Frame rate", f"{format_number(metrics['fps'])} fps"))
    lipsync = ((stages.get("lipsync") or {}).get("params") or {}).get("lipsync") or {}
    if lipsync.get("backend"):
        backend = lipsync["backend"]
        if lipsync.get("checkpoint") and backend == "latentsync":
            backend += f" {lipsync['checkpoint']}"
        details.append(("Lip-sync", str(backend)))
    if seconds:
        details.append(("Render time", f"{seconds:.1f} s"))
    return details


def _history(entry: dict[str, Any]) -> list[Version]:
    versions = []
    for item in entry.get("history") or ():
        reasons = []
        for raw in item.get("reasons") or ():
            try:
                reasons.append(describe_reason(Reason(kind=raw.get("kind", "?"), field=raw.get("field"),
                                                      old=raw.get("old"), new=raw.get("new"), path=raw.get("path"))))
            except (AttributeError, TypeError):
                reasons.append(str(raw))
        versions.append(Version(int(item.get("version") or 0), parse_time(item.get("at")),
                                str(item.get("action") or "render"), tuple(dict.fromkeys(reasons))))
    return sorted(versions, key=lambda version: version.number, reverse=True)


def describe_reason(reason: Reason) -> str:
    from ..presentation import describe

    if reason.kind == "new":
        return "first render"
    return describe(reason)


def parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def clock(seconds: float) -> str:
    """0:05, 1:02.5"""
    minutes, rest = divmod(seconds, 60)
    text = f"{int(minutes)}:{rest:04.1f}" if rest != int(rest) else f"{int(minutes)}:{int(rest):02d}"
    return text


def iso_duration(seconds: float | None) -> str | None:
    """ISO 8601 duration, whole seconds: PT1M5S."""
    if seconds is None:
        return None
    total = max(1, int(seconds + 0.5))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None
