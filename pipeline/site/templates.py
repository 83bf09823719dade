"""The template set: Jinja2 (autoescape, StrictUndefined), the project's `templates/` over the
theme shipped with alpha (`pipeline/site/theme/`), file by file, as Hugo and MkDocs themes are
overridden. A project holds only the files it changes, so an upgrade of alpha reaches every
template it does not override. Template errors become user errors naming the file and line."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from ..errors import UserError
from .filters import FILTERS
from .markers import finalize

THEME = Path(__file__).resolve().parent / "theme"


class TemplateSet:
    """The Jinja environment: the project's templates over the defaults, strict and escaped.

    `globals` are what every template sees (the site, the build id placeholder, the assets).
    """

    def __init__(self, folder: Path, project_root: Path, globals: dict[str, Any]):
        import jinja2

        self.folder = folder
        self.project_root = project_root
        where = self._rel

        class Utf8Loader(jinja2.FileSystemLoader):
            """Reads templates as UTF-8; a file that is not says so, naming itself."""

            def get_source(self, environment, template):
                try:
                    return super().get_source(environment, template)
                except UnicodeDecodeError as exc:
                    path = next((Path(base) / template for base in self.searchpath
                                 if (Path(base) / template).is_file()), Path(template))
                    raise UserError(f"{where(path)}: not UTF-8 text (byte {exc.start}: "
                                    f"{exc.object[exc.start:exc.start + 1]!r}); save it as UTF-8") from None

        loaders = [Utf8Loader(str(folder))] if folder.is_dir() else []
        loaders.append(Utf8Loader(str(THEME)))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders), autoescape=True, undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True, auto_reload=False, finalize=finalize)
        self.env.filters.update(FILTERS)
        self.env.globals.update(globals)
        self._cache: dict[str, Any] = {}

    def load(self, name: str):
        import jinja2

        template = self._cache.get(name)
        if template is None:
            try:
                template = self._cache[name] = self.env.get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                raise UserError(f"{self._where(exc.filename, exc.lineno)}: template syntax error: "
                                f"{exc.message}") from None
            except jinja2.TemplateNotFound as exc:
                raise UserError(f"template {exc.name!r} not found in {self._rel(self.folder)}/ "
                                "or the theme") from None
        return template

    def render(self, name: str, **context: Any) -> str:
        import jinja2

        template = self.load(name)
        try:
            return template.render(context)
        except jinja2.TemplateSyntaxError as exc:
            raise UserError(f"{self._where(exc.filename, exc.lineno)}: template syntax error: {exc.message}") from None
        except jinja2.TemplateNotFound as exc:
            raise UserError(f"template {exc.name!r} not found in {self._rel(self.folder)}/ "
                            "or the theme") from None
        except (jinja2.TemplateError, TypeError, AttributeError, KeyError, ValueError) as exc:
            frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
                      if frame.filename.endswith((".html", ".xml", ".txt"))]
            where = self._where(frames[-1].filename, frames[-1].lineno) if frames else name
            raise UserError(f"{where}: template error: {exc}") from None

    def _where(self, filename: str | None, line: int | None) -> str:
        return f"{self._rel(Path(filename)) if filename else '?'}:{line or 1}"

    def _rel(self, path: Path) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.project_root))
        except ValueError:
            return str(path)


def static_sources(project_templates: Path) -> dict[str, Path]:
    """Static files by name (e.g. "style.css"): the project's over the theme's."""
    sources: dict[str, Path] = {}
    for folder in (THEME / "static", project_templates / "static"):
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    sources[path.relative_to(folder).as_posix()] = path
    return sources
