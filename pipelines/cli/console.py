"""What every command shares: the consoles, the --config and --gallery options, progress bars."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from gallery.database import is_url
from tracker.config import Config

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DEFAULT_CONFIG = Path("config.toml")
ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Configuration file.")]
GalleryOption = Annotated[str | None, typer.Option("--gallery", "-g", help="Gallery file, or a postgresql:// URL "
                                                   "(default: gallery.url, else gallery.path).")]


def gallery_location(settings: Config, option: str | None) -> Path | str:
    """Where the gallery is: ``--gallery`` (a file, or a ``postgresql://`` URL), else the config's."""
    if option:
        return option if is_url(option) else Path(option).expanduser()
    return settings.gallery.location()


def write_json(path: Path, report) -> None:
    """A command's ``--json`` report, indented, its folder made if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=err)


def analyzer(config: Config):
    """The face path for ``config``, loaded on demand (model loading takes seconds)."""
    from tracker.face.analyzer import FaceAnalyzer  # torch: only the commands that need models pay for it

    return FaceAnalyzer.from_config(config)
