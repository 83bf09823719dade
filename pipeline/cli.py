"""The `alpha` command: a thin typer layer over `pipeline.commands`."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from . import __version__

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Declarative publishing for an AI-generated video series.",
)

Episodes = typer.Argument(None, help="Episode ids (default: all).", show_default=False)
JsonFlag = typer.Option(False, "--json", help="Print only JSON on stdout.")


ProjectOption = typer.Option(None, "-C", "--project", metavar="DIR",
                             help="Project folder (default: the nearest folder with alpha.yaml).")


def _project(ctx: typer.Context, here: Optional[Path]) -> Optional[Path]:
    return here if here is not None else ctx.obj


# The command-line layer's own errors (usage, bad values) pass through to it. Typer now ships its
# own copy of click, so its base class is found from Typer rather than imported from click.
_CLICK_ERROR = next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "ClickException")


def _run(command, *args) -> None:
    """Run a command function; expected errors become a message and their exit code, and
    unexpected ones a one-line message (the traceback goes to a kept log), exit 1."""
    from .console import error
    from .crash import describe_unexpected
    from .errors import Failure, UserError

    try:
        code = command(*args)
    except (UserError, Failure) as exc:
        error(str(exc))
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        error("interrupted: finished stages and episodes are kept; run the command again to resume")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort, _CLICK_ERROR):
        raise
    except Exception as exc:  # noqa: BLE001 - the last guard: no traceback reaches the user
        error(describe_unexpected(exc))
        raise typer.Exit(1) from None
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        print(f"alpha {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    project: Optional[Path] = ProjectOption,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    ctx.obj = project


@app.command()
def init(directory: Path = typer.Argument(Path("."), help="Folder to create the project in.")) -> None:
    """Scaffold a demo project that renders and builds at once, on a CPU."""
    from .commands.init import init as run

    _run(run, directory)


@app.command()
def status(ctx: typer.Context, episodes: Optional[List[str]] = Episodes, as_json: bool = JsonFlag,
           check: bool = typer.Option(False, "--check", help="Exit 1 when anything is stale."),
           verbose: bool = typer.Option(False, "-v", "--verbose", help="List up-to-date episodes too."),
           explain: bool = typer.Option(False, "--explain",
                                        help="Every resolved setting with its source and file:line."),
           project: Optional[Path] = ProjectOption) -> None:
    """Which episodes are stale, and exactly why."""
    from .commands.status import status as run

    _run(run, _project(ctx, project), episodes or [], as_json, check, verbose, explain)


@app.command()
def render(
    ctx: typer.Context,
    episodes: Optional[List[str]] = Episodes,
    render_all: bool = typer.Option(False, "--all", help="Consider every episode (the default without ids)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan (same as status) and render nothing."),
    force: bool = typer.Option(False, "--force", help="Re-render even what is up to date."),
    as_json: bool = JsonFlag,
    keep_going: bool = typer.Option(True, "--keep-going/--fail-fast",
                                    help="Go on with the other episodes after a failure."),
    wait: bool = typer.Option(False, "--wait", help="Wait for another render of this project to finish."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", metavar="N",
                                       help="CPU slots: stages run side by side (default: this machine's CPUs)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", metavar="ADDRESS",
                                          help="Render on the Ray cluster at HOST:PORT (overrides alpha.yaml's cluster)."),
    local: bool = typer.Option(False, "--local", help="Render on this machine, ignoring alpha.yaml's cluster."),
    project: Optional[Path] = ProjectOption,
) -> None:
    """Render the stale episodes (or those named)."""
    from .commands.render import render as run

    _run(run, _project(ctx, project), episodes or [], render_all, dry_run, force, as_json, keep_going, wait,
         jobs, cluster, local)


@app.command()
def proof(
    ctx: typer.Context,
    episode: str = typer.Argument(..., help="Episode id."),
    at: Optional[List[float]] = typer.Option(None, "--at", metavar="SECONDS",
                                             help="Time of a proof image (repeatable; default: proof.at)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the images (default: proofs/EPISODE)."),
    failed: bool = typer.Option(False, "--failed",
                                help="The proofs of the newest render the quality gate stopped "
                                     "(into proofs/EPISODE/failed)."),
    project: Optional[Path] = ProjectOption,
) -> None:
    """Write proof frames of a rendered episode, without re-rendering."""
    from .commands.proof import proof as run

    _run(run, _project(ctx, project), episode, at or [], out, failed)


build_app = typer.Typer(no_args_is_help=True, help="Generate outputs from the renders.")
app.add_typer(build_app, name="build")


@build_app.command("site")
def build_site(ctx: typer.Context,
               drafts: bool = typer.Option(False, "--drafts", help="Include drafts and future-dated items."),
               portable: Optional[bool] = typer.Option(
                   None, "--portable/--links", show_default=False,
                   help="Media as real files (hard links or copies) that any host or `cp -r` takes, or as "
                        "links into .alpha/store (default: site.portable, else links)."),
               project: Optional[Path] = ProjectOption) -> None:
    """(Re)generate the static site into site.output."""
    from .commands.build import build_site as run

    _run(run, _project(ctx, project), drafts, portable)


@app.command()
def serve(ctx: typer.Context, port: int = typer.Option(8000, "--port", "-p", min=1, max=65535, help="Port on 127.0.0.1."),
          drafts: bool = typer.Option(False, "--drafts", help="Include drafts and future-dated items."),
          project: Optional[Path] = ProjectOption) -> None:
    """Preview the site locally, rebuilding and reloading on every change."""
    from .commands.serve import serve as run

    _run(run, _project(ctx, project), port, drafts)


@app.command()
def deploy(
    ctx: typer.Context,
    target: Optional[str] = typer.Option(None, "--target", metavar="NAME",
                                         help="Target from alpha.yaml (default: deploy.default, or the only one)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be uploaded, deleted and switched; write nothing."),
    rollback: bool = typer.Option(False, "--rollback", help="Point current back to the previous release."),
    as_json: bool = JsonFlag,
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Check the live site at the target's url after the switch."),
    rollback_on_failure: bool = typer.Option(False, "--rollback-on-failure",
                                             help="Switch back at once when verification fails."),
    allow_drafts: bool = typer.Option(False, "--allow-drafts",
                                      help="Publish a site built with --drafts (refused otherwise)."),
    project: Optional[Path] = ProjectOption,
) -> None:
    """Publish the built site (rebuilt first if its inputs changed): a complete new release,
    then an atomic switch of `current`."""
    from .commands.deploy import deploy as run

    _run(run, _project(ctx, project), target, dry_run, rollback, as_json, verify, rollback_on_failure,
         allow_drafts)


@app.command()
def doctor(ctx: typer.Context, project: Optional[Path] = ProjectOption,
           cluster: Optional[str] = typer.Option(None, "--cluster", metavar="ADDRESS",
                                                 help="Check every host of the Ray cluster at HOST:PORT too.")) -> None:
    """Say what this machine can and cannot render (ffmpeg, LatentSync, checkpoints, GPU)."""
    from .commands.doctor import doctor as run

    _run(run, _project(ctx, project), cluster)


@app.command()
def accept(ctx: typer.Context, episodes: List[str] = typer.Argument(..., help="Episode ids."),
           force: bool = typer.Option(False, "--force",
                                      help="Also accept changes that alter the video (recorded as forced)."),
           project: Optional[Path] = ProjectOption) -> None:
    """Record episodes' current inputs as rendered, without rendering (cosmetic edits)."""
    from .commands.accept import accept as run

    _run(run, _project(ctx, project), episodes, force)


@app.command()
def captions(ctx: typer.Context, episodes: List[str] = typer.Argument(..., help="Episode ids."),
             force: bool = typer.Option(False, "--force", help="Transcribe episodes that have captions too."),
             project: Optional[Path] = ProjectOption) -> None:
    """Transcribe episodes' voices into WebVTT captions with LatentSync's Whisper checkpoint."""
    from .commands.captions import captions as run

    _run(run, _project(ctx, project), episodes, force)


def main() -> None:
    import signal
    import sys

    # A polite kill unwinds like Ctrl-C does: ffmpeg children are stopped, temporaries removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    app()
