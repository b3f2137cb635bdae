"""The ``facetrack`` command line. Every command takes ``--config FILE`` (default ``config.toml``).

Exit codes: 0 success (for ``verify``: same person), 1 ``verify``: different people,
2 an error, reported in one line that names the file, key or value at fault.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pipelines.annotate import draw_faces
from pipelines.cli.console import DEFAULT_CONFIG, ConfigOption, analyzer, err, out, progress, write_json
from pipelines.cli.gallery import enroll, gallery_app, identify
from pipelines.cli.live import register as register_live
from pipelines.cli.reviews import reviews_app
from pipelines.cli.train import eval_heads, train
from pipelines.cli.unknowns import unknowns_app
from pipelines.cli.video import eval_real, eval_scenarios, eval_video
from pipelines.cli.workers import workers_app
from tracker import redact
from tracker.config import Config, load_config, with_changes
from tracker.distance import squared_distance
from tracker.errors import ConfigError, NoFaceError, TrackerError
from tracker.images import read_image, write_image
from tracker.lfw import read_pairs

app = typer.Typer(help="Streaming video identity tracker.", no_args_is_help=True, pretty_exceptions_enable=False,
                  add_completion=False)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure model quality on standard benchmarks.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(eval_app, name="eval")
app.add_typer(gallery_app, name="gallery")
app.add_typer(unknowns_app, name="unknowns")
app.add_typer(reviews_app, name="reviews")
app.add_typer(workers_app, name="workers")
app.add_typer(workers_app, name="cluster", hidden=True, deprecated=True)  # its name until 2026-12, for one release
app.command()(enroll)
app.command()(train)
app.command()(identify)
register_live(app)
eval_app.command("video")(eval_video)
eval_app.command("heads")(eval_heads)
eval_app.command("scenarios")(eval_scenarios)
eval_app.command("real")(eval_real)

@config_app.command("check")
def config_check(
    file: Annotated[Path | None, typer.Argument(help="File to check (default: --config)")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Validate a config file and print the resolved settings (environment overrides applied)."""
    resolved = load_config(file or config).model_dump(mode="json")
    for section, key in (("http", "token"), ("mqtt", "password")):  # secrets: said to be set, never shown
        resolved[section][key] = redact.HIDDEN if resolved[section][key] else ""
    out.print_json(redact.redact(json.dumps(resolved)))
    err.print(f"{file or config}: valid")


@app.command()
def detect(
    image: Annotated[Path, typer.Argument(help="Image file")],
    out_file: Annotated[Path | None, typer.Option("--out", help="Write an annotated copy here")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Find the faces in an image: box, probability, size, sharpness, frontal pose."""
    settings = load_config(config)
    rgb = read_image(image)
    analysis = analyzer(settings).analyze([rgb])[0]
    if out_file:
        write_image(out_file, draw_faces(rgb, analysis.faces))
        err.print(f"annotated copy written to {out_file}")
    if not len(analysis):
        raise NoFaceError(f"{image}: no face found (min_face_size {settings.detector.min_face_size} px)")
    table = Table(title=f"{image}: {len(analysis)} face(s)")
    for column in ("#", "box (x1 y1 x2 y2)", "probability", "size px", "sharpness", "frontal"):
        table.add_column(column, justify="right")
    q = analysis.quality
    for i, box in enumerate(analysis.faces.boxes):
        table.add_row(str(i + 1), " ".join(f"{v:.0f}" for v in box), f"{analysis.faces.scores[i]:.3f}",
                      f"{q.size[i]:.0f}", f"{q.sharpness[i]:.0f}", f"{q.frontal[i]:.2f}")
    out.print(table)


@app.command()
def verify(
    image_a: Annotated[Path, typer.Argument(help="First image")],
    image_b: Annotated[Path, typer.Argument(help="Second image")],
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Are the faces in two images the same person? Exit 0 same, 1 different, 2 error."""
    settings = load_config(config)
    images = [read_image(image_a), read_image(image_b)]
    face_path = analyzer(settings)
    analyses = face_path.analyze(images)
    vectors = []
    for path, analysis in zip((image_a, image_b), analyses):
        if not len(analysis):
            raise NoFaceError(f"{path}: no face found")
        largest = int(analysis.faces.sizes.argmax())
        if len(analysis) > 1:
            err.print(f"{path}: {len(analysis)} faces, using the largest")
        vectors.append(analysis.embeddings[largest])
    distance = float(squared_distance(vectors[0], vectors[1]))
    threshold = settings.verify.threshold or face_path.verify_threshold
    same = distance <= threshold
    verdict = "same person" if same else "different people"
    out.print(f"distance {distance:.4f} (threshold {threshold:.4f}, {face_path.embedder.name}): {verdict}")
    raise typer.Exit(0 if same else 1)


@eval_app.command("lfw")
def eval_lfw(
    root: Annotated[Path, typer.Option("--root", help="LFW folder (holds images_deepfunneled/ and pairs files)")],
    pairs: Annotated[Path, typer.Option("--pairs", help="Pairs file, relative to --root or absolute")] = Path(
        "pairs.txt"
    ),
    model: Annotated[str | None, typer.Option("--model", help="Embedder name (default: models.embedder)")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON here")] = None,
    roc: Annotated[Path, typer.Option("--roc", help="Write the ROC curve PNG here")] = Path("out/lfw-roc.png"),
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """LFW verification: 10 folds, each fold's threshold chosen on the other nine."""
    from pipelines.eval.lfw import LFW_BATCH, evaluate_lfw, write_roc  # torch and matplotlib: for this command only

    settings = load_config(config)
    if model:
        settings = with_changes(settings, f"--model {model}", models={"embedder": model})
    pairs_data = read_pairs(root, pairs if pairs.is_absolute() else root / pairs)
    face_path = analyzer(settings)
    with progress() as bar:
        result, distances = evaluate_lfw(face_path, pairs_data, LFW_BATCH, bar)
    write_roc(roc, distances, pairs_data.same, result)
    if json_file:
        write_json(json_file, result.as_json())
    r = result.report
    table = Table(title=f"LFW, {result.pairs} pairs, {result.images} images, {result.model_id}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("accuracy (mean ± std over folds)", f"{r.accuracy_mean:.4f} ± {r.accuracy_std:.4f}")
    table.add_row("VAL @ FAR=1e-3", f"{r.val_mean:.4f} ± {r.val_std:.4f} (FAR {r.far_mean:.5f})")
    table.add_row("AUC", f"{r.auc:.5f}")
    table.add_row("threshold (squared L2, mean of folds)", f"{r.threshold:.4f}")
    handling = "aligned with the median landmarks" if result.no_face_images else "none"
    table.add_row("images without a detected face", f"{result.no_face_images} ({handling})")
    table.add_row("images with several faces (central one used)", str(result.multi_face_images))
    table.add_row("time", f"{result.seconds:.0f} s")
    out.print(table)
    err.print(f"ROC curve written to {roc}" + (f", report to {json_file}" if json_file else ""))


@eval_app.command("far-table")
def eval_far_table(
    root: Annotated[Path, typer.Option("--root", help="LFW folder (holds images_deepfunneled/)")],
    write: Annotated[bool, typer.Option("--write", help="Write the tables into the model's card (else print it)")]
    = False,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """The model's impostor and same-person distances on all of LFW, as the quantile tables of its model card
    (tracker/face/cards/<model>.json)."""
    from pipelines.eval.far_table import (  # torch: this command only
        genuine_quantiles,
        impostor_quantiles,
        lfw_faces,
        measured_card,
    )

    settings = load_config(config)
    path = _card_to_measure(settings, "far-table", write)
    face_path = analyzer(settings)
    with progress() as bar:
        vectors, people = lfw_faces(face_path, root, bar)
        table, pairs = impostor_quantiles(vectors, people, bar=bar)
    genuine, same = genuine_quantiles(vectors, people)
    card = measured_card(face_path.embedder.model_id, table, pairs, genuine, same, len(vectors), _how(settings))
    _put_card(card, path, write)


def _card_to_measure(settings: Config, command: str, write: bool) -> Path:
    """The card ``eval <command>`` measures: the shipped embedder's (a trained head's tables are measured by
    ``facetrack train``, into its record); with ``write``, one it can write."""
    from tracker.face.card import card_path  # (with the commands)

    if settings.models.head:
        raise ConfigError(f"models.head: eval {command} measures a shipped embedder's card; a trained head's tables "
                          "are measured by facetrack train, into its record")
    path = card_path(settings.models.embedder)
    if write and not os.access(path, os.W_OK):
        raise ConfigError(f"--write: {path} is not writable here (run it from a source checkout, or without --write "
                          "to print the card)")
    return path


def _how(settings: Config) -> str:
    """The settings a card's measurement depends on."""
    return f"detector.model {settings.detector.model}, models.flip {settings.models.flip}"


def _put_card(card, path: Path, write: bool) -> None:
    """The measured card written over ``path``, or printed."""
    from tracker.face.card import card_json  # (with the commands)

    if write:
        path.write_text(card_json(card))
        err.print(f"{path} written", highlight=False)
    else:
        out.print(card_json(card), highlight=False, markup=False, end="")


@eval_app.command("small-faces")
def eval_small_faces(
    root: Annotated[Path, typer.Option("--root", help="LFW folder (holds images_deepfunneled/)")],
    write: Annotated[bool, typer.Option("--write", help="Write the table into the model's card (else print it)")]
    = False,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """What a small reference face costs: per face size, the share of strangers' faces within the model's
    verification threshold of it (LFW), as its model card's small_faces table."""
    from pipelines.eval.small_faces import small_face_rates, with_small_faces  # torch: this command only

    settings = load_config(config)
    path = _card_to_measure(settings, "small-faces", write)
    face_path = analyzer(settings)
    with progress() as bar:
        rows, found = small_face_rates(face_path, root, bar)
    card = with_small_faces(face_path.embedder.model_id, rows, found, _how(settings))
    for (size, rate), n in zip(rows, found):
        err.print(f"{f'{size} px' if size else 'as in LFW'} ({n} references found): {rate:.4%} of strangers' faces "
                  f"within {card.verify_threshold}", highlight=False)
    _put_card(card, path, write)


@eval_app.command("audit")
def eval_audit(
    root: Annotated[Path, typer.Option("--root", help="LFW folder (holds images_deepfunneled/)")],
    people: Annotated[int, typer.Option("--people", min=20, help="People in the gallery (4 photographs each)")] = 200,
    planted: Annotated[int, typer.Option("--planted", min=1, help="Bad references of each kind")] = 20,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON here")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """The gallery audit on LFW with bad references planted (another person's photograph, tiny and blurred
    faces): how many it finds, and strangers named before and after removing what it flags."""
    from dataclasses import asdict  # (with the command)

    from pipelines.eval.audit import measure_audit  # torch: this command only

    settings = load_config(config)
    face_path = analyzer(settings)
    with progress() as bar:
        measured = measure_audit(face_path, root, settings.match, bar, people, planted)
    table = Table(title=f"gallery audit: {measured.people} people, {measured.faces} faces, "
                        f"threshold {measured.threshold:.4f} ({face_path.embedder.model_id})")
    table.add_column("bad reference")
    table.add_column("flagged", justify="right")
    for kind, (found, total) in measured.found.items():
        table.add_row(kind, f"{found} of {total}")
    table.add_row("clean faces (false flags)", f"{measured.clean_flagged[0]} of {measured.clean_flagged[1]}")
    out.print(table)
    out.print(f"strangers named ({measured.strangers} held out): " + ", ".join(
        f"{what} {share:.2%}" for what, share in measured.named.items()), highlight=False)
    if json_file:
        write_json(json_file, asdict(measured))


@eval_app.command("openset")
def eval_openset(
    root: Annotated[Path, typer.Option("--root", help="LFW folder (holds images_deepfunneled/)")],
    gallery: Annotated[Path, typer.Option("--gallery", help="Gallery file to build (must not exist)")] = Path(
        "out/openset-gallery.db"
    ),
    far: Annotated[float, typer.Option("--far", help="Target false-accept rate for the threshold")] = 1e-3,
    sizes: Annotated[str | None, typer.Option("--sizes", help="Instead of calibrating: the default threshold "
                                              "for galleries of these many people, e.g. 10,30,100,158")] = None,
    grid: Annotated[bool, typer.Option("--grid", help="With --sizes: also top_k 1/3 x margin 0/0.03")] = False,
    probe_face: Annotated[str | None, typer.Option("--probe-face", help="With --sizes: also probes shrunk to these "
                                                   "face sizes in px (camera-sized faces), e.g. 48,32,26")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON here")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Open-set identification on LFW: enroll 5 images of each person with 10+, probe known and unknown."""
    from pipelines.eval.openset import evaluate_openset  # torch: for this command only

    settings = load_config(config)
    if gallery.exists():
        raise TrackerError(f"{gallery}: exists; eval openset builds a new gallery (remove it or pass --gallery)")
    face_path = analyzer(settings)
    if sizes:
        faces = [None] + _sizes(probe_face, "--probe-face", "face sizes in px, e.g. 48,32") if probe_face else [None]
        _openset_sizes(face_path, settings, root, gallery, _sizes(sizes), grid, json_file, faces)
        return
    with progress() as bar:
        r = evaluate_openset(face_path, settings, root, gallery, bar, far=far)
    table = Table(title=f"LFW open-set identification, {r.model_id}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("enrolled people / faces", f"{r.enrolled_people} / {r.enrolled_faces}")
    table.add_row("known / unknown probes", f"{r.known_probes} / {r.unknown_probes}")
    table.add_row(f"threshold (FAR {r.far_target:g}, {r.calibration_impostors} calibration impostors)",
                  f"{r.threshold:.4f}, margin {r.margin}")
    table.add_row("known probes named correctly (rank-1 at threshold)", f"{r.rank1_named:.4f}")
    table.add_row("known probes whose nearest identity is right", f"{r.rank1_nearest:.4f}")
    table.add_row("known probes named as someone else", f"{r.known_wrongly_named:.4f}")
    table.add_row("unknown probes wrongly named", f"{r.unknown_named:.4f}")
    table.add_row("time", f"{r.seconds:.0f} s")
    out.print(table)
    if json_file:
        write_json(json_file, r.as_json())


@eval_app.command("feedback")
def eval_feedback(
    root: Annotated[Path, typer.Option("--root", help="LFW folder (holds images_deepfunneled/)")],
    gallery: Annotated[Path, typer.Option("--gallery", help="Gallery file to build (must not exist)")] = Path(
        "out/feedback-gallery.db"
    ),
    far: Annotated[float, typer.Option("--far", help="Target false-accept rate for the threshold")] = 1e-3,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON here")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """"Not this person" on LFW: reject each stranger's first false accept, then probe their other photographs."""
    from pipelines.eval.feedback import evaluate_feedback  # torch: for this command only

    settings = load_config(config)
    if gallery.exists():
        raise TrackerError(f"{gallery}: exists; eval feedback builds a new gallery (remove it or pass --gallery)")
    face_path = analyzer(settings)
    with progress() as bar:
        r = evaluate_feedback(face_path, settings, root, gallery, bar, far=far)
    table = Table(title=f"LFW open set, one rejection per falsely accepted stranger, {r.model_id}")
    for column in ("measure", "without rejections", "with them"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row(f"threshold (FAR {r.far_target:g}), top_k {r.top_k}, margin {r.margin}", f"{r.threshold:.4f}", "")
    table.add_row(f"strangers / their photographs ({r.enrolled_people} people enrolled)",
                  f"{r.strangers} / {r.stranger_photos}", "")
    table.add_row("strangers falsely accepted, each rejected once", str(r.false_accepts), "")
    table.add_row(f"their other {r.probes} photographs named as anyone", str(r.wrong_before), str(r.wrong_after))
    table.add_row("... named as the person rejected", str(r.same_before), str(r.same_after))
    table.add_row(f"known probes ({r.known_probes}) named correctly", f"{r.known_named_before:.4f}",
                  f"{r.known_named_after:.4f}")
    table.add_row("known probes named as someone else", f"{r.known_wrong_before:.4f}", f"{r.known_wrong_after:.4f}")
    table.add_row("time", f"{r.seconds:.0f} s", "")
    out.print(table)
    if json_file:
        write_json(json_file, r.as_json())


def _sizes(text: str, option: str = "--sizes", what: str = "numbers of people, e.g. 10,30,100") -> list[int]:
    try:
        sizes = [int(v) for v in text.split(",")]
    except ValueError:
        raise TrackerError(f"{option} {text}: expected {what} separated by commas") from None
    if not sizes or min(sizes) < 1:
        raise TrackerError(f"{option} {text}: each must be at least 1")
    return sizes


def _openset_sizes(face_path, settings: Config, root: Path, gallery: Path, sizes: list[int], grid: bool,
                   json_file: Path | None, faces: list[int | None]) -> None:
    from pipelines.eval.openset import evaluate_sizes  # torch: for this command only

    m = settings.match
    variants = [(k, g) for k in (1, 3) for g in (0.0, 0.03)] if grid else [(m.top_k, m.margin)]
    with progress() as bar:
        rows = evaluate_sizes(face_path, settings, root, gallery, bar, sizes, variants, faces)
    table = Table(title=f"LFW open-set, default threshold (match.far {m.far:g}, no calibration), "
                        f"{face_path.embedder.model_id}")
    for column in ("probe face", "people", "faces", "top_k", "margin", "threshold", "source", "expected FAR",
                   "known named", "known wrong", "strangers named"):
        table.add_column(column, justify="right")
    for r in rows:
        expected = "-" if r.expected_far is None else f"{r.expected_far:.4f}"
        face = "LFW" if r.probe_face is None else f"{r.probe_face} px"
        table.add_row(face, str(r.people), str(r.faces), str(r.top_k), f"{r.margin:g}", f"{r.threshold:.4f}", r.source,
                      expected, f"{r.known_named:.1%} of {r.known_probes}", f"{r.known_wrong:.1%}",
                      f"{r.strangers_named:.2%} of {r.strangers}")
    out.print(table)
    if json_file:
        write_json(json_file, [r.as_json() for r in rows])


def main() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(redact.Formatter("%(levelname)s %(name)s: %(message)s"))  # no password in a log line
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    try:
        app()
    except TrackerError as error:
        err.print(f"[red]error:[/red] {escape(redact.redact(str(error)))}", highlight=False, soft_wrap=True)
        sys.exit(2)
