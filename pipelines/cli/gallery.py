"""The gallery side of the CLI: ``enroll``, ``identify`` and ``gallery ...``."""

from __future__ import annotations

import datetime
import json
import re
import tomllib
from pathlib import Path
from typing import Annotated

import redis
import typer
from rich.markup import escape
from rich.table import Table

from gallery.calibrate import calibrate
from gallery.negatives import Negatives
from gallery.store import GalleryError, GalleryStore
from gallery.threshold import AUTO, stored_threshold
from gallery.unknowns import sighting_faces
from pipelines.annotate import draw_labelled
from pipelines.cli.console import (
    DEFAULT_CONFIG,
    ConfigOption,
    GalleryOption,
    analyzer,
    err,
    gallery_location,
    out,
    progress,
    write_json,
)
from pipelines.events.erase import sweep_configured
from tracker.config import Config, load_config, parse_config
from tracker.errors import TrackerError
from tracker.face.card import Tables
from tracker.head_record import model_name, tables_of
from tracker.images import read_image, write_image
from tracker.redact import redact

gallery_app = typer.Typer(help="Manage the enrolled identities.", no_args_is_help=True)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def _open(settings: Config, gallery: str | None) -> GalleryStore:
    return GalleryStore(gallery_location(settings, gallery))


def _active_model(settings: Config, counts: dict[str, int]) -> tuple[str, str | None, Tables | None]:
    """(the active model's name, its id among the gallery's models, or None, and its distance tables: a trained
    head's own), without loading a model."""
    name = model_name(settings.models)
    active = next((m for m in sorted(counts) if m.startswith(f"{name}:")), None)
    return name, active, tables_of(settings.models, active) if active else None


def _report(outcomes) -> None:
    """Each refused, skipped or dropped source (of a person's enrollment), one line each."""
    colours = {"refused": "red", "skipped": "yellow", "dropped": "yellow"}
    for o in outcomes:
        if o.status == "enrolled" and o.reason:  # admitted under the gates (--accept-small)
            err.print(f"[yellow]warning[/yellow] {escape(o.source)}: {escape(o.reason)}", highlight=False)
        elif o.status in colours:
            colour = colours[o.status]
            err.print(f"[{colour}]{o.status}[/{colour}] {escape(o.source)}: {escape(o.reason)}", highlight=False)


def _summary(results) -> None:
    from gallery.enroll import (  # torch: only the commands that need models pay for the import
        DROPPED,
        ENROLLED,
        REFUSED,
        SKIPPED,
    )

    table = Table(title="enrollment")
    for column in ("person", "enrolled", "refused", "skipped", "dropped", "faces now"):
        table.add_column(column, justify="left" if column == "person" else "right")
    for r in results:
        counts = (str(r.count(s)) for s in (ENROLLED, REFUSED, SKIPPED, DROPPED))
        table.add_row(escape(r.name), *counts, str(r.faces_total))
    out.print(table)


def _metadata(pairs: list[str]) -> dict[str, str] | None:
    if not pairs:
        return None
    bad = [p for p in pairs if "=" not in p or not p.split("=", 1)[0]]
    if bad:
        raise TrackerError(f"--meta {bad[0]}: expected KEY=VALUE")
    return dict(p.split("=", 1) for p in pairs)


def _folders(root: Path) -> list[tuple[str, list[Path]]]:
    """Each sub-folder of ``root`` (the person's name) with its image files (by suffix, any case), sorted."""
    if not root.is_dir():
        raise TrackerError(f"{root}: not a folder (enroll --dir takes a folder with one sub-folder per person)")
    people = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(p for p in folder.iterdir()
                       if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)
        people.append((folder.name, files))
    if not people:
        raise TrackerError(f"{root}: no sub-folders; enroll --dir takes one sub-folder per person")
    return people


def enroll(
    name: Annotated[str | None, typer.Argument(help="The person's name")] = None,
    images: Annotated[list[Path] | None, typer.Argument(help="Images of the person, one face each")] = None,
    folder: Annotated[Path | None, typer.Option("--dir", help="One sub-folder per person, named for them")] = None,
    video: Annotated[Path | None, typer.Option("--video", help="A video of the one person in view")] = None,
    meta: Annotated[
        list[str] | None, typer.Option("--meta", help="KEY=VALUE stored with the person (repeatable)")
    ] = None,
    accept_small: Annotated[bool, typer.Option("--accept-small", help=(
        "Also take faces smaller (down to 12 px) or blurrier (any sharpness) than the enroll gates, each with a "
        "warning of what it costs; the audit marks them; a turned face is still refused"))] = False,
    gallery: GalleryOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Enroll people from images, a folder of folders, or a video. Exit 0 all in, 1 some refused, 2 error."""
    from gallery.enroll import REFUSED, Enroller  # torch: only the commands that need models pay for the import

    settings = load_config(config)
    modes = [bool(images), folder is not None, video is not None]
    if sum(modes) != 1 or (folder is not None) == (name is not None):
        raise TrackerError("enroll: give NAME IMAGE..., or NAME --video FILE, or --dir DIR")
    metadata = _metadata(meta or [])
    with _open(settings, gallery) as store:
        enroller = Enroller(analyzer(settings), store, settings.enroll, accept_small)
        results = []
        if folder:
            people = _folders(folder)
            with progress() as bar:
                task = bar.add_task("enrolling", total=sum(len(files) for _, files in people))
                for person, files in people:
                    results.append(enroller.enroll(person, *enroller.from_images(files)))
                    _report(results[-1].outcomes)
                    bar.advance(task, len(files))
        else:
            candidates = enroller.from_video(video) if video else enroller.from_images(images)
            results.append(enroller.enroll(name, *candidates, metadata=metadata))
            _report(results[-1].outcomes)
    _summary(results)
    raise typer.Exit(1 if any(r.count(REFUSED) for r in results) else 0)


def identify(
    images: Annotated[list[Path], typer.Argument(help="Images to name the faces of")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write annotated copies into this folder")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines: one object per image")] = False,
    gallery: GalleryOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Name every face in each image, with its distance and margin (models load once for all images)."""
    from gallery.identify import Identifier  # torch: only the commands that need models pay for the import

    settings = load_config(config)
    with _open(settings, gallery) as store:
        identifier = Identifier(analyzer(settings), store, settings.match)
        if warning := identifier.missing_warning(store):
            err.print(f"warning: {warning}", highlight=False, soft_wrap=True)
        for path in images:
            try:
                rgb = read_image(path)
            except TrackerError as error:
                err.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
                continue
            faces = identifier.identify(rgb)
            if as_json:
                out.print_json(json.dumps({"image": str(path), "faces": [f.as_json() for f in faces]}), indent=None)
            else:
                out.print(f"{path}: {len(faces)} face(s)", highlight=False)
                for f in faces:
                    out.print(f"  {f.label():24s} distance {f.distance:.3f}  margin {f.margin:.3f}  box "
                              + " ".join(f"{v:.0f}" for v in f.box), highlight=False)
            if out_dir:
                write_image(out_dir / f"{path.stem}.jpg", draw_labelled(rgb, faces))


@gallery_app.command("list")
def list_people(gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Everyone enrolled, with their face counts."""
    settings = load_config(config)
    with _open(settings, gallery) as store:
        table = Table(title=str(store.path))
        for column in ("name", "faces", "enrolled"):
            table.add_column(column)
        for identity in store.identities():
            when = datetime.datetime.fromtimestamp(identity.created_at).strftime("%Y-%m-%d %H:%M")
            table.add_row(escape(identity.name), str(identity.faces), when)
        out.print(table)


@gallery_app.command("show")
def show(name: str, gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """One person's faces (source, quality, and which models embedded them), and faces rejected as them."""
    settings = load_config(config)
    with _open(settings, gallery) as store:
        identity = store.identity(name)
        models = store.face_models(identity.id)
        table = Table(title=escape(f"{identity.name} ({identity.faces} faces) {json.dumps(identity.metadata)}"))
        for column in ("face", "source", "size", "sharpness", "frontal", "models", "added"):
            table.add_column(column)
        for face in store.faces(identity.id):
            q = face.quality
            added = datetime.datetime.fromtimestamp(face.added_at).strftime("%Y-%m-%d %H:%M")
            table.add_row(str(face.id), escape(face.source), f"{q['size']:.0f}", f"{q['sharpness']:.0f}",
                          f"{q['frontal']:.2f}", ", ".join(models.get(face.id, [])), added)
        out.print(table)
        rejected = Negatives(store).of(identity.id)
        if rejected:
            table = Table(title=escape(f"faces rejected as not {identity.name}"),
                          caption="`gallery reject --undo ID` takes one back")
            for column in ("rejected face", "source", "added"):
                table.add_column(column, overflow="fold")
            for n in rejected:
                added = datetime.datetime.fromtimestamp(n.added_at).strftime("%Y-%m-%d %H:%M")
                table.add_row(str(n.id), escape(n.source), added)
            out.print(table)


@gallery_app.command("rename")
def rename(old: str, new: str, gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Give a person another name."""
    with _open(load_config(config), gallery) as store:
        store.rename(old, new)
    out.print(f"renamed {old} to {new}", highlight=False, markup=False)


@gallery_app.command("remove")
def remove(name: str, gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Erase a person: their faces, crops and embeddings are overwritten and gone for good."""
    with _open(load_config(config), gallery) as store:
        faces = store.remove(name)
    out.print(f"removed {name} and {faces} face(s)", highlight=False, markup=False)


@gallery_app.command("erase")
def erase(name: Annotated[str | None, typer.Argument(help="The person; none: finish erasures whose Stream "
                                                    "sweep is pending")] = None,
          gallery_only: Annotated[bool, typer.Option("--gallery-only", help="Leave the event Stream for later "
                                                     "(Redis unreachable)")] = False,
          gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Erase a person for good: faces, crops, embeddings, sightings, and the Stream's events about them."""
    settings = load_config(config)
    left = None  # what could not be done now, and the command that finishes it
    with _open(settings, gallery) as store:
        if name is not None:  # the gallery first: whatever happens to Redis, the person is gone from it
            removed = store.erase(name)
            out.print(f"erased {name} from the gallery: {removed['faces']} face(s), {removed['negatives']} rejected "
                      f"face(s), {removed['sightings']} sighting(s) in {removed['clusters']} named cluster(s); "
                      "running workers end their open tracks at once", highlight=False, markup=False)
            left = removed.get("not_compacted")
        else:  # finishing: a compaction a full disk stopped, too
            store.compact()
        pending = store.pending_erasures()
        if gallery_only or not pending:
            if pending:
                out.print(f"the Stream still holds events of {len(pending)} erased person(s): "
                          "`facetrack gallery erase` (no name) clears them, as a running `facetrack run` does",
                          highlight=False, markup=False)
        else:
            events = _sweep_stream(settings, store)
            out.print(f"{events} event(s) of {len(pending)} erased person(s) deleted from the Stream, and Redis's "
                      "append-only file rewritten", highlight=False, markup=False)
    if left:  # the erasure stands; said last, and the exit status says it is not finished
        raise TrackerError(left)


@gallery_app.command("reject")
def reject(
    name: str,
    images: Annotated[list[Path] | None, typer.Argument(help="Images of a face wrongly named as NAME (one face "
                                                        "each)")] = None,
    sighting: Annotated[int | None, typer.Option("--sighting", help="A sighting's faces instead (ids: "
                                                 "`facetrack unknowns show`)")] = None,
    undo: Annotated[int | None, typer.Option("--undo", help="Take back the rejected face with this id "
                                             "(ids: `facetrack gallery show NAME`)")] = None,
    gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Not this person: store faces wrongly named as NAME, so that faces closer to them than to NAME's own
    are never named NAME again."""
    if sum(bool(x) or x == 0 for x in (images, sighting, undo)) != 1:
        raise TrackerError("gallery reject: give one of IMAGES, --sighting ID or --undo ID")
    settings = load_config(config)
    with _open(settings, gallery) as store:
        negatives = Negatives(store)
        identity = store.identity(name)
        if undo is not None:
            negatives.remove(name, undo)
            out.print(f"rejected face {undo} taken back: {name} may be named from it again", highlight=False,
                      markup=False)
            return
        if sighting is not None:
            model_id, faces = sighting_faces(store, sighting)
            faces = [face.as_new_face() for face in faces]
        else:
            from gallery.enroll import Enroller  # torch: only the commands that need models pay for the import

            face_path = analyzer(settings)
            model_id = face_path.embedder.model_id
            faces, refused = Enroller(face_path, store, settings.enroll).from_images(images)
            _report(refused)
        if not faces:
            raise TrackerError(f"no face to reject as {name}; nothing was changed")
        negatives.add(name, faces, model_id)
        total = len(negatives.of(identity.id))
    out.print(f"{len(faces)} face(s) rejected as not {name} ({total} in all; a running `facetrack run` follows "
              "within a second)", highlight=False, markup=False)


def _sweep_stream(settings: Config, store) -> int:
    """The Stream's events about erased people, deleted (``sweep_configured``)."""
    try:
        return sweep_configured(settings, store)
    except redis.RedisError as error:
        raise TrackerError(f"redis: {redact(settings.redis.url or 'the embedded server')} unreachable ({error}); the "
                           "person is erased from the gallery, and their events in the Stream will be when `facetrack "
                           "gallery erase` (no name) or a running `facetrack run` reaches it") from None


@gallery_app.command("export")
def export(file: Path, gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Write the whole gallery into one portable file (a consistent snapshot)."""
    if file.exists():
        raise TrackerError(f"{file}: exists; export does not overwrite")
    with _open(load_config(config), gallery) as store:
        store.export(file)
    out.print(f"exported to {file}", highlight=False)


@gallery_app.command("import")
def import_(file: Path, gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Add every person of an exported file; refused whole if a name is already enrolled."""
    if not file.is_file():
        raise TrackerError(f"{file}: no such file")
    with _open(load_config(config), gallery) as store:
        people, faces = store.import_from(file)
    out.print(f"imported {people} people and {faces} faces from {file}", highlight=False)


@gallery_app.command("stats")
def stats(gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Counts, embeddings per model, and what the active model still lacks."""
    settings = load_config(config)
    with _open(settings, gallery) as store:
        identities = store.identities()
        table = Table(title=str(store.path))
        table.add_column("measure")
        table.add_column("value", justify="right")
        table.add_row("people", str(len(identities)))
        table.add_row("faces", str(sum(i.faces for i in identities)))
        counts = store.model_counts()
        for model_id, count in sorted(counts.items()):
            table.add_row(f"embeddings by {model_id}", str(count))
        table.add_row("file size", f"{store.path.stat().st_size / 1e6:.2f} MB")
        name, active, tables = _active_model(settings, counts)
        if active:
            rule = stored_threshold(store, settings.match, active, tables, None)
            table.add_row(f"match threshold in force ({name})", f"{rule.value:.4f}")
            table.add_row("its source", rule.source + (f" (match.far {settings.match.far:g})" if rule.source == AUTO
                                                       else ""))
            table.add_row("expected share of strangers named", "unknown" if rule.expected_far is None
                          else f"{rule.expected_far:.3%}")
        if not active:
            table.add_row(f"embeddings by {name}", "none: run `facetrack gallery reembed`")
        out.print(table)
        if active and (warning := rule.warning()):
            err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)


@gallery_app.command("audit")
def audit_command(
    strangers: Annotated[Path | None, typer.Option("--strangers", help="An LFW folder: its people not enrolled "
                                                   "(a photograph each) are the strangers faces are tried on")] = None,
    count: Annotated[int, typer.Option("--count", min=10, help="How many strangers")] = 500,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write every face's audit as JSON here")] = None,
    gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Reference faces that barely resemble their person, make two people confusable, or name strangers."""
    from gallery.audit import SMALL, audit, small_faces  # numpy only, but not for the other commands

    settings = load_config(config)
    with _open(settings, gallery) as store:
        name, active, tables = _active_model(settings, store.model_counts())
        if active is None:
            raise TrackerError(f"{store.path}: no faces embedded by {name}; run `facetrack gallery reembed`")
        face_ids, identity_ids, vectors = store.embeddings(active)
        names = {i.id: i.name for i in store.identities()}
        threshold = stored_threshold(store, settings.match, active, tables, None).value
        small = small_faces(store, settings.enroll)
    stranger_vectors = _strangers(settings, strangers, set(names.values()), count) if strangers else None
    report = audit(face_ids, identity_ids, vectors, tables, threshold, stranger_vectors, small)
    flagged = sorted(report.flagged(), key=lambda f: (-len(f.flags), f.other_distance))
    table = Table(title=f"{len(flagged)} of {len(report.faces)} faces flagged ({active}, threshold {threshold:.4f})")
    for column in ("person", "face", "flags", "own nearest (same-person share closer)", "nearest other person",
                   "strangers it names"):
        table.add_column(column)
    for f in flagged:
        own = "-" if f.own_distance is None else f"{f.own_distance:.3f}" + (
            "" if f.own_share is None else f" ({f.own_share:.1%})")
        other = "-" if f.other_identity is None else f"{names.get(f.other_identity, '?')} {f.other_distance:.3f}"
        table.add_row(escape(names.get(f.identity_id, "?")), str(f.face_id), ", ".join(f.flags), own,
                      escape(other), str(f.strangers_named))
    out.print(table)
    if report.closest_pair:
        a, b, d = report.closest_pair
        out.print(f"closest pair of people: {escape(names.get(a, '?'))} and {escape(names.get(b, '?'))} "
                  f"({d:.3f})", highlight=False)
    if report.strangers:
        after = report.strangers_named_without({f.face_id for f in flagged if set(f.flags) - {SMALL}})
        out.print(f"strangers named: {report.strangers_named} of {report.strangers} "
                  f"({report.strangers_named / report.strangers:.1%}); without the flagged faces {after} "
                  f"({after / report.strangers:.1%})", highlight=False)
    if json_file:
        write_json(json_file, {"model_id": active, "threshold": threshold, "closest_pair": report.closest_pair,
                               "strangers": report.strangers, "strangers_named": report.strangers_named,
                               "faces": [{**vars(f), "name": names.get(f.identity_id)} for f in report.faces]})


def _strangers(settings: Config, root: Path, enrolled: set[str], count: int):
    from pipelines.eval.embedding import embed_paths  # torch and the models: only with --strangers
    from tracker.lfw import image_dir  # (light, beside it)

    folders = sorted(p for p in image_dir(root).iterdir() if p.is_dir() and p.name not in enrolled)[:count]
    with progress() as bar:
        return embed_paths(analyzer(settings), [sorted(f.glob("*.jpg"))[0] for f in folders], bar,
                           "embedding the strangers").vectors


@gallery_app.command("reembed")
def reembed_command(gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Embed every stored face crop (and rejected face) with the active model (resumable: done batches stay
    done)."""
    # torch: only the commands that need models pay for the import
    from gallery.reembed import missing, reembed
    from tracker.face.embedders import load_embedder, resolve_device  # (the same)

    settings = load_config(config)
    with _open(settings, gallery) as store:
        embedder = load_embedder(settings.models, resolve_device(settings.models.device))
        with progress() as bar:
            task = bar.add_task(f"re-embedding with {embedder.model_id}", total=missing(store, embedder.model_id))
            done = reembed(store, embedder, advance=lambda n: bar.advance(task, n))
    out.print(f"{done} face(s) embedded with {embedder.model_id}", highlight=False)


@gallery_app.command("calibrate")
def calibrate_command(
    far: Annotated[float, typer.Option("--far", help="Target false-accept rate", min=1e-6, max=0.5)] = 1e-3,
    lfw: Annotated[Path | None, typer.Option("--lfw", help="LFW folder: its faces become extra impostors")] = None,
    lfw_count: Annotated[int, typer.Option("--lfw-count", help="How many LFW images to use", min=1)] = 2000,
    write: Annotated[bool, typer.Option("--write", help="Write the threshold into the config file")] = False,
    gallery: GalleryOption = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Leave-one-out threshold for a target false-accept rate, and the most confusable people."""
    from pipelines.eval.impostors import lfw_impostors  # torch: only the commands that need models pay for the import

    settings = load_config(config)
    with _open(settings, gallery) as store:
        face_path = analyzer(settings)
        _, identity_ids, vectors = store.embeddings(face_path.embedder.model_id)
        if len(set(identity_ids.tolist())) < 2:
            raise GalleryError(f"{store.path}: calibration needs at least two enrolled people with faces")
        names = {i.id: i.name for i in store.identities()}
        extra = None
        if lfw:
            with progress() as bar:
                extra = lfw_impostors(face_path, lfw, set(names.values()), lfw_count, bar)
        result = calibrate(identity_ids, vectors, far, settings.match.top_k, extra)
    table = Table(title=f"calibration of {store.path} ({face_path.embedder.model_id})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(f"threshold for FAR {far:g}", f"{result.threshold:.4f}")
    table.add_row("measured FAR", f"{result.far_measured:.5f} of {result.impostors} impostor probes")
    table.add_row("expected TAR (known faces named)", f"{result.tar:.4f} of {result.genuine} genuine probes")
    for a, b, d in result.confusable:
        table.add_row(f"confusable: {names[a]} / {names[b]}", f"{d:.4f}")
    out.print(table)
    if not result.far_resolvable:
        err.print(f"warning: {result.impostors} impostor probes cannot measure a FAR of {far:g}; "
                  "add impostors with --lfw", highlight=False, soft_wrap=True)
    if write:
        _write_threshold(config, result.threshold, far)
        out.print(f"match.threshold = {result.threshold:.4f} (calibrated_far = {far:g}) written to {config}",
                  highlight=False)


def _write_threshold(config: Path, threshold: float, far: float) -> None:
    """Set ``[match] threshold`` (and ``calibrated_far``) in the config file, keeping everything else as it is."""
    text = config.read_text()
    for key, value in (("threshold", f"{threshold:.4f}"), ("calibrated_far", f"{far:g}")):
        text = _set_match_key(text, key, value)
    parse_config(tomllib.loads(text), str(config), environ={})  # never write a config that would not load
    config.write_text(text)


def _set_match_key(text: str, key: str, value: str) -> str:
    section = re.search(r"^\[match\][^\[]*", text, flags=re.M)
    line = f"{key} = {value}"
    if section is None:
        return text.rstrip("\n") + f"\n\n[match]\n{line}\n"
    if re.search(rf"^{key}\s*=", section.group(0), flags=re.M):
        body = re.sub(rf"^{key}\s*=\s*[0-9.eE+-]+", line, section.group(0), count=1, flags=re.M)
        return text[: section.start()] + body + text[section.end() :]
    return text[: section.end()].rstrip("\n") + f"\n{line}\n" + text[section.end() :]
