"""``facetrack unknowns``: review the clusters of unknown people that ``facetrack run`` saw, and name them."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from gallery.store import GalleryStore
from gallery.unknowns import IGNORED, NAMED, OPEN, Unknowns
from pipelines.cli.console import DEFAULT_CONFIG, ConfigOption, GalleryOption, analyzer, err, gallery_location, out
from tracker.config import Config, load_config
from tracker.head_record import model_name
from tracker.images import write_image

T = TypeVar("T")
unknowns_app = typer.Typer(help="Review unknown people seen by the cameras: clusters of sightings.",
                           no_args_is_help=True)


def _when(t: float) -> str:
    return datetime.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def _open(settings: Config, gallery: str | None) -> GalleryStore:
    return GalleryStore(gallery_location(settings, gallery))


def _unknowns(store: GalleryStore, settings: Config) -> Unknowns:
    """The clusters by the active model (its id as the gallery holds it; no model is loaded)."""
    prefix = f"{model_name(settings.models)}:"
    models = [r[0] for r in store.query("SELECT DISTINCT model_id FROM clusters ORDER BY id DESC")]
    model_id = next((m for m in models if m.startswith(prefix)), prefix)
    return Unknowns(store, model_id)


@unknowns_app.command("list")
def list_clusters(
    every: Annotated[bool, typer.Option("--all", help="Also named and ignored clusters")] = False,
    gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """The clusters of unknown faces, most recently seen first."""
    settings = load_config(config)
    with _open(settings, gallery) as store:
        clusters = _unknowns(store, settings).clusters((OPEN, NAMED, IGNORED) if every else (OPEN,))
        table = Table(title=f"{store.path}: unknown people")
        for column in ("cluster", "status", "sightings", "faces", "first seen", "last seen", "cameras"):
            table.add_column(column)
        for c in clusters:
            table.add_row(str(c.id), c.status, str(c.sightings), str(c.faces), _when(c.first_seen),
                          _when(c.last_seen), ", ".join(c.cameras))
        out.print(table)


@unknowns_app.command("show")
def show(cluster: int, out_dir: Annotated[Path | None, typer.Option("--out", help="Write its face crops here")] = None,
         gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """One cluster: its sightings' faces (best first), and optionally their crops as files."""
    settings = load_config(config)
    with _open(settings, gallery) as store:
        unknowns = _unknowns(store, settings)
        c = unknowns.cluster(cluster)
        faces = unknowns.faces(cluster)
    table = Table(title=f"cluster {c.id} ({c.status}): {c.sightings} sightings on {', '.join(c.cameras)}")
    for column in ("face", "sighting", "camera", "seen", "size", "sharpness", "frontal"):
        table.add_column(column)
    for f in faces:
        q = f.quality
        table.add_row(str(f.id), str(f.sighting_id), f.camera, _when(f.captured_at), f"{q['size']:.0f}",
                      f"{q['sharpness']:.0f}", f"{q['frontal']:.2f}")
        if out_dir:
            write_image(out_dir / f"cluster{c.id}_face{f.id}.jpg", f.crop)
    out.print(table)


@unknowns_app.command("name")
def name_cluster(cluster: int, name: str, gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Enroll the cluster's faces as NAME (new, or added to that person) through enrollment's rules."""
    from gallery.enroll import ENROLLED, Enroller  # torch: only the commands that need models pay for the import

    settings = load_config(config)
    with _open(settings, gallery) as store:
        result = Enroller(analyzer(settings), store, settings.enroll).enroll_cluster(_unknowns(store, settings),
                                                                                    cluster, name)
    taken = result.count(ENROLLED)
    for o in result.outcomes:
        if o.status != ENROLLED:
            err.print(f"[yellow]{o.status}[/yellow] {escape(o.source)}: {escape(o.reason)}", highlight=False)
    out.print(f"cluster {cluster}: {taken} face(s) enrolled as {name} ({result.faces_total} in all)", highlight=False,
              markup=False)


def _change(gallery: str | None, config: Path, change: Callable[[Unknowns], T]) -> T:
    settings = load_config(config)
    with _open(settings, gallery) as store:
        return change(_unknowns(store, settings))


@unknowns_app.command("merge")
def merge(keep: int, other: int, gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Move the sightings of cluster OTHER into KEEP (the same person)."""
    _change(gallery, config, lambda unknowns: unknowns.merge(keep, other))
    out.print(f"cluster {other} merged into {keep}", highlight=False)


@unknowns_app.command("ignore")
def ignore(cluster: int, gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Hide a cluster from the list (its later sightings still join it)."""
    _change(gallery, config, lambda unknowns: unknowns.mark(cluster, IGNORED))
    out.print(f"cluster {cluster} ignored", highlight=False)


@unknowns_app.command("delete")
def delete(cluster: int, gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Erase a cluster, its sightings and their face crops for good."""
    count = _change(gallery, config, lambda unknowns: unknowns.delete(cluster))
    out.print(f"cluster {cluster} and its {count} sighting(s) erased", highlight=False)


@unknowns_app.command("recluster")
def recluster(gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Cluster the open clusters' sightings again from scratch (after changing unknowns.join_share)."""
    settings = load_config(config)
    with _open(settings, gallery) as store:
        face_path = analyzer(settings)
        join = settings.unknowns.join_share * face_path.verify_threshold
        unknowns = Unknowns(store, face_path.embedder.model_id, join)
        sightings, clusters = unknowns.recluster()
    out.print(f"{sightings} sighting(s) in {clusters} open cluster(s)", highlight=False)
