"""From manifests on disk to a validated `Project`, or every problem at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ManifestError, Problem, UserError
from . import schema
from .keys import did_you_mean, dotted, leaf_paths, model_at
from .model import STATE_DIR, Project, ResolvedEpisode
from .yamlfile import Located, ParseCache, YamlSyntaxError

CONFIG_NAME = "alpha.yaml"

def find_root(start: Path) -> Path:
    """The nearest folder at or above `start` that holds alpha.yaml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise UserError(f"no {CONFIG_NAME} in {start} or any folder above it (use -C DIR, or `alpha init`)")


def load_project(root: Path) -> Project:
    """Load and validate alpha.yaml and every episodes/*.yaml under `root`."""
    root = root.resolve()
    cache = ParseCache(root / STATE_DIR / "cache" / "manifests.pickle")
    try:
        return _load_project(root, cache)
    finally:
        cache.save()


def _load_project(root: Path, cache: ParseCache) -> Project:
    problems: list[Problem] = []
    config = _load(root, root / CONFIG_NAME, problems, cache)
    if config is None:
        raise ManifestError(problems)
    settings = _validate(schema.ProjectSettings, config.data, config, [Layer(config.data, config, ())], problems)
    if settings is None:
        raise ManifestError(problems)
    fixes = _check_fixes(settings, config, problems)
    defaults = _check_defaults(settings, config, problems)

    episodes: dict[str, ResolvedEpisode] = {}
    for path in sorted((root / "episodes").glob("*.yaml")):
        document = _load(root, path, problems, cache)
        if document is None:
            continue
        episode = _resolve_episode(root, document, settings, defaults, fixes, config, problems)
        if episode is None:
            continue
        if not _captions_ok(root, episode, document, config, cache, problems):
            continue
        if episode.id in episodes:
            first = episodes[episode.id]
            problems.append(Problem(_rel(root, path), document.line_of(("id",)), "id",
                                    f"duplicate episode id {episode.id!r} (also in {_rel(root, first.file)})"))
            continue
        episodes[episode.id] = ResolvedEpisode(episode.id, path, episode)
    if problems:
        raise ManifestError(problems)
    return Project(root=root, settings=settings, episodes=episodes)


def _rel(root: Path, path: Path) -> Path:
    try:
        return path.relative_to(root)
    except ValueError:
        return path


def _load(root: Path, path: Path, problems: list[Problem], cache: ParseCache) -> Located | None:
    try:
        document = cache.load(path)
    except YamlSyntaxError as exc:
        problems.append(Problem(_rel(root, path), exc.line, exc.key, exc.message))
        return None
    except OSError as exc:
        problems.append(Problem(_rel(root, path), 1, "", f"cannot read: {exc.strerror}"))
        return None
    document.path = _rel(root, path)
    for key_path, line in document.duplicates:
        problems.append(Problem(document.path, line, dotted(key_path), "duplicate key"))
    if not isinstance(document.data, dict):
        problems.append(Problem(document.path, 1, "", "the document must be a mapping of keys"))
        return None
    return document


def _validate(model: type[BaseModel], data: Any, document: Located, layers: list["Layer"],
              problems: list[Problem]):
    """Validate `data` against `model`, turning each pydantic error into a located Problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            problems.append(_problem(model, error, document, layers))
        return None


def _problem(model: type[BaseModel], error: dict, document: Located, layers: list["Layer"]) -> Problem:
    loc = tuple(error["loc"])
    where, inner = _origin(loc, document, layers)
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = model_at(model, loc[:-1])
        choices = parent.model_fields if parent else ()
        message = "unknown key" + did_you_mean(str(loc[-1]), choices)
    elif kind == "missing":
        message = "missing required key"
    else:
        message = error["msg"].removeprefix("Value error, ")
        if kind == "literal_error" and isinstance(error.get("input"), str):
            expected = [c.strip(" '") for c in error["ctx"]["expected"].replace(" or ", ", ").split(",")]
            message += f", got {error['input']!r}" + did_you_mean(error["input"], expected)
        elif kind != "value_error" and "input" in error and not isinstance(error["input"], (dict, list)):
            message += f", got {error['input']!r}"
    if loc == ("id",) and inner not in where.lines:
        message += " (the id comes from the file name: rename the file or set `id:`)"
    return Problem(where.path, where.line_of(inner), dotted(loc), message)


def _check_fixes(settings: schema.ProjectSettings, config: Located,
                 problems: list[Problem]) -> dict[str, tuple[int, schema.NamedFix]]:
    allowed = leaf_paths(schema.EpisodeSettings)
    fixes: dict[str, tuple[int, schema.NamedFix]] = {}
    for index, fix in enumerate(settings.fixes):
        if fix.id in fixes:
            problems.append(Problem(config.path, config.line_of(("fixes", index, "id")),
                                    f"fixes[{index}].id", f"duplicate fix id {fix.id!r}"))
        fixes[fix.id] = (index, fix)
        for key, value in fix.settings.items():
            where = config.line_of(("fixes", index, "settings", key))
            if key not in allowed:
                problems.append(Problem(config.path, where, f"fixes[{index}].settings.{key}",
                                        "not an episode setting" + did_you_mean(key, allowed)))
                continue
            message = _setting_error(key, value)
            if not message and key == "lipsync.checkpoint":
                version = repr(value) if isinstance(value, float) else str(value)
                if version not in settings.latentsync.checkpoints:
                    message = f"unknown checkpoint; the registry has {', '.join(sorted(settings.latentsync.checkpoints))}"
            if message:
                problems.append(Problem(config.path, where, f"fixes[{index}].settings.{key}",
                                        f"{message}, got {value!r}"))
    return fixes


def _setting_error(dotted_key: str, value: Any) -> str | None:
    """Why `value` is invalid for one episode setting, judged by the model that owns it."""
    *parents, leaf = dotted_key.split(".")
    owner = model_at(schema.EpisodeSettings, tuple(parents))
    try:
        owner.model_validate({leaf: value})
    except ValidationError as exc:
        # Only errors about this key count: the owner's other required keys are absent here.
        for error in exc.errors():
            if error["loc"][:1] == (leaf,):
                return error["msg"].removeprefix("Value error, ")
    return None


def _check_defaults(settings: schema.ProjectSettings, config: Located,
                    problems: list[Problem]) -> dict[str, Any]:
    allowed = schema.EpisodeSettings.model_fields
    for key in settings.defaults:
        if key not in allowed:
            hint = (" (episode-only keys such as titles and dates belong in episode files)"
                    if key in schema.EPISODE_ONLY_KEYS else did_you_mean(key, allowed))
            problems.append(Problem(config.path, config.line_of(("defaults", key)), f"defaults.{key}",
                                    "unknown key" + hint))
    return {k: v for k, v in settings.defaults.items() if k in allowed}


@dataclass
class Layer:
    """One source of an episode's settings: the defaults, a named fix's setting, or the file."""

    values: dict
    document: Located
    base: tuple  # where `values` sits inside `document`
    exact: tuple | None = None  # a fix sets exactly one key path
    fix: str | None = None  # the named fix's id, for a fix's layer
    fix_value: Any = None

    def value(self, key_path: tuple) -> Any:
        """The raw value this layer gives `key_path` (call only where `locate` found it)."""
        if self.exact is not None:
            return self.fix_value
        return _raw(self.values, key_path)

    def locate(self, key_path: tuple) -> tuple | None:
        """The key path inside the document that gave `key_path`, if this layer set it."""
        if self.exact is not None:
            return self.base if key_path == self.exact else None
        node: Any = self.values
        for part in key_path:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                return None
        return self.base + key_path


def _origin(loc: tuple, document: Located, layers: list[Layer]) -> tuple[Located, tuple]:
    """The document and key path inside it that gave the value at `loc` (the last layer wins).

    Only called for problems, so the happy path never pays for provenance.
    """
    for cut in range(len(loc), 0, -1):
        for layer in reversed(layers):
            found = layer.locate(loc[:cut])
            if found is not None:
                return layer.document, found + loc[cut:]
    return document, loc


def _merge(target: dict, layer: dict) -> None:
    """Deep-merge `layer` into `target`: mappings merge, everything else replaces."""
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            target[key] = dict(target[key])
            _merge(target[key], value)
        else:
            target[key] = value


def _set_dotted(target: dict, dotted_key: str, value: Any) -> tuple:
    parts = tuple(dotted_key.split("."))
    node = target
    for part in parts[:-1]:
        node[part] = dict(node[part]) if isinstance(node.get(part), dict) else {}
        node = node[part]
    node[parts[-1]] = value
    return parts


def _layers(document: Located, defaults: dict, fixes: dict, config: Located,
            problems: list[Problem]) -> tuple[dict[str, Any], list[Layer]]:
    """An episode's merged raw settings, and the layers they came from (defaults, then each
    named fix's settings, then the episode file), in order of precedence."""
    layers = [Layer(defaults, config, ("defaults",))]
    merged: dict[str, Any] = {}
    _merge(merged, defaults)

    own = document.data
    fix_ids = own.get("fixes", defaults.get("fixes", []))
    fix_source = (document, ("fixes",)) if "fixes" in own else (config, ("defaults", "fixes"))
    if isinstance(fix_ids, list):
        for position, fix_id in enumerate(fix_ids):
            if fix_id not in fixes:
                where, path = fix_source
                problems.append(Problem(where.path, where.line_of(path + (position,)), f"fixes[{position}]",
                                        f"unknown fix {fix_id!r}" + did_you_mean(str(fix_id), fixes)))
                continue
            index, fix = fixes[fix_id]
            for key, value in fix.settings.items():
                parts = _set_dotted(merged, key, value)
                layers.append(Layer({}, config, ("fixes", index, "settings", key), exact=parts,
                                    fix=fix_id, fix_value=value))

    _merge(merged, own)
    layers.append(Layer(own, document, ()))
    merged.setdefault("id", document.path.stem)
    return merged, layers


def _resolve_episode(root: Path, document: Located, settings: schema.ProjectSettings,
                     defaults: dict, fixes: dict, config: Located,
                     problems: list[Problem]) -> schema.Episode | None:
    merged, layers = _layers(document, defaults, fixes, config, problems)

    # Checks on the raw values run even when the schema rejects something else, so that one
    # pass reports every problem.
    _check_checkpoint(merged, settings, layers, document, problems)
    _check_files(root, merged, layers, document, problems)
    before = len(problems)
    episode = _validate(schema.Episode, merged, document, layers, problems)
    if episode is not None and episode.source.flux.enabled and settings.flux.model is None:
        where, path = _origin(("source", "flux", "enabled"), document, layers)
        problems.append(Problem(where.path, where.line_of(path), "source.flux.enabled",
                                "Flux restyling needs a model: set flux.model in alpha.yaml"))
    return episode if episode is not None and len(problems) == before else None


def _raw(data: Any, key_path: tuple) -> Any:
    for part in key_path:
        if isinstance(part, int):
            data = data[part] if isinstance(data, list) and part < len(data) else None
        else:
            data = data.get(part) if isinstance(data, dict) else None
    return data


def _check_checkpoint(merged: dict, settings: schema.ProjectSettings, layers: list[Layer],
                      document: Located, problems: list[Problem]) -> None:
    version = _raw(merged, ("lipsync", "checkpoint"))
    if version is None:
        version = schema.LipsyncSettings().checkpoint
    version = repr(version) if isinstance(version, float) else str(version)
    registry = settings.latentsync.checkpoints
    if version not in registry:
        where, path = _origin(("lipsync", "checkpoint"), document, layers)
        problems.append(Problem(where.path, where.line_of(path), "lipsync.checkpoint",
                                f"unknown checkpoint {version!r}; the registry in alpha.yaml "
                                f"(latentsync.checkpoints) has {', '.join(sorted(registry))}"))


def _raw_input_paths(merged: dict) -> list[tuple[tuple, str]]:
    paths = [(("source", "image"), _raw(merged, ("source", "image"))),
             (("source", "video"), _raw(merged, ("source", "video"))),
             (("audio", "voice"), _raw(merged, ("audio", "voice"))),
             (("captions",), _raw(merged, ("captions",)))]
    foley = _raw(merged, ("audio", "foley"))
    for index in range(len(foley) if isinstance(foley, list) else 0):
        paths.append((("audio", "foley", index, "path"), _raw(foley, (index, "path"))))
    return [(key_path, value) for key_path, value in paths if isinstance(value, str)]


def _check_files(root: Path, merged: dict, layers: list[Layer], document: Located,
                 problems: list[Problem]) -> None:
    for key_path, relative in _raw_input_paths(merged):
        if not (root / relative).is_file():
            where, path = _origin(key_path, document, layers)
            problems.append(Problem(where.path, where.line_of(path), dotted(key_path),
                                    f"file not found: {relative}"))


def _captions_ok(root: Path, episode: schema.Episode, document: Located, config: Located,
                 cache: ParseCache, problems: list[Problem]) -> bool:
    """Check the episode's caption file with a WebVTT parser (remembered while unchanged)."""
    from ..captions.files import CaptionsError, read_captions

    relative = episode.captions
    if relative is None or not (root / relative).is_file():  # a missing one is already reported
        return True

    def check(path: Path) -> tuple[int, str] | None:
        try:
            read_captions(path, Path(relative))
        except CaptionsError as exc:
            return exc.line, exc.message
        return None

    found = cache.derived(root / relative, "captions", check)
    if found is None:
        return True
    where, key_path = (document, ("captions",)) if "captions" in document.data else (config, ("defaults", "captions"))
    line, message = found
    problems.append(Problem(where.path, where.line_of(key_path), "captions", f"{relative}:{line}: {message}"))
    return False


def input_fields(episode: schema.Episode) -> dict[str, tuple[tuple, str]]:
    """Every input file of an episode: field name -> (key path, project-relative path)."""
    fields: dict[str, tuple[tuple, str]] = {}
    if episode.source.image is not None:
        fields["source.image"] = (("source", "image"), episode.source.image)
    if episode.source.video is not None:
        fields["source.video"] = (("source", "video"), episode.source.video)
    fields["audio.voice"] = (("audio", "voice"), episode.audio.voice)
    for index, track in enumerate(episode.audio.foley):
        fields[f"audio.foley[{index}]"] = (("audio", "foley", index, "path"), track.path)
    return fields



def episode_layers(project_root: Path, episode_file: Path) -> list[Layer]:
    """The layers of one episode of a project that loads without problems (for --explain)."""
    root = project_root.resolve()
    cache = ParseCache(root / STATE_DIR / "cache" / "manifests.pickle")
    problems: list[Problem] = []
    config = _load(root, root / CONFIG_NAME, problems, cache)
    document = _load(root, episode_file, problems, cache)
    if config is None or document is None:
        raise ManifestError(problems)
    settings = schema.ProjectSettings.model_validate(config.data)
    fixes = _check_fixes(settings, config, problems)
    defaults = _check_defaults(settings, config, problems)
    _, layers = _layers(document, defaults, fixes, config, problems)
    return layers


def locate(project_root: Path, episode_file: Path, key_path: tuple) -> tuple[Path, int]:
    """The file and line that gave one setting of an episode (for problems found after loading)."""
    layers = episode_layers(project_root, episode_file)
    episode_document = layers[-1].document
    where, path = _origin(key_path, episode_document, layers)
    return where.path, where.line_of(path)


def load_host_file(path: Path) -> schema.HostSettings:
    """A render host's own settings file (see `schema.HostSettings`), validated like a manifest."""
    from .yamlfile import load_yaml

    problems: list[Problem] = []
    try:
        document = load_yaml(path)
    except YamlSyntaxError as exc:
        raise ManifestError([Problem(path, exc.line, exc.key, exc.message)]) from None
    except OSError as exc:
        raise ManifestError([Problem(path, 1, "", f"cannot read: {exc.strerror}")]) from None
    for key_path, line in document.duplicates:
        problems.append(Problem(path, line, dotted(key_path), "duplicate key"))
    data = document.data if isinstance(document.data, dict) else None
    if data is None:
        problems.append(Problem(path, 1, "", "the document must be a mapping of keys"))
    settings = _validate(schema.HostSettings, data, document, [Layer(data, document, ())], problems) if data is not None else None
    if problems or settings is None:
        raise ManifestError(problems)
    return settings
