"""The video identity benchmark on the command line: ``eval video`` (one video against its ground
truth) and ``eval scenarios`` (the hard LFW scenarios, each generated, enrolled and scored)."""

from __future__ import annotations

import logging
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gallery.store import GalleryStore
from pipelines.cli.console import DEFAULT_CONFIG, ConfigOption, analyzer, err, out, write_json
from pipelines.eval.scenarios import RECIPES, write_scenario
from pipelines.eval.video_metrics import VideoScore
from tracker.config import load_config
from tracker.errors import TrackerError

COLUMNS = ("video", "IDF1", "ID switches", "wrong-name s", "absent named s", "unknowns named s", "named coverage",
           "first name s (mean / max)", "never named")


def eval_video(
    video: Annotated[Path, typer.Argument(help="The video, played as one camera")],
    truth: Annotated[Path, typer.Option("--truth", help="Ground truth JSON (as eval scenarios writes it)")],
    gallery: Annotated[Path, typer.Option("--gallery", help="The gallery of the enrolled people")],
    fps: Annotated[float, typer.Option("--fps", help="Frames analysed per video second", min=0.1, max=60)] = 5.0,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the scores as JSON here")] = None,
    why: Annotated[Path | None, typer.Option("--why", help="Write why each track was (not) named here (JSON lines)")
                   ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Play a video through the live pipeline and score its tracks and names against ground truth."""
    from pipelines.eval.video import evaluate_video  # torch: for this command only

    with explained(why):
        result = evaluate_video(load_config(config), video, truth, gallery, fps)
    _print({video.name: result}, json_file)


@contextmanager
def explained(path: Path | None):
    """While open, every naming decision and every ended track is written to ``path`` with why (JSON lines)."""
    if path is None:
        yield
        return
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("tracker.track.outbox")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        handler.close()


def eval_scenarios(
    lfw: Annotated[Path, typer.Option("--lfw", help="LFW folder (holds images_deepfunneled/)")] = Path(
        "../shared/data/lfw"
    ),
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for each scenario's video, truth and gallery")] = Path(
        "out/scenarios"
    ),
    only: Annotated[str | None, typer.Option("--only", help=f"Some of: {', '.join(RECIPES)}")] = None,
    fps: Annotated[float, typer.Option("--fps", help="Frames analysed per video second", min=0.1, max=60)] = 5.0,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the scores as JSON here")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Generate each hard scenario from LFW, enroll its people, play it and score it."""
    from gallery.enroll import Enroller  # torch: for this command only
    from pipelines.eval.video import evaluate_video  # (the same)

    names = only.split(",") if only else list(RECIPES)
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        raise TrackerError(f"--only {unknown[0]}: no such scenario (there are {', '.join(RECIPES)})")
    settings = load_config(config)
    face_path = analyzer(settings)
    results = {}
    for name in names:
        scenario = RECIPES[name](lfw)
        folder = out_dir / name
        video = write_scenario(scenario, folder)
        gallery = folder / "gallery.db"
        gallery.unlink(missing_ok=True)
        with GalleryStore(gallery) as store:
            enroller = Enroller(face_path, store, settings.enroll)
            for person, photos in scenario.enroll:
                enroller.enroll(person, *enroller.from_images([Path(p) for p in photos]))
        results[name] = evaluate_video(settings, video, folder / "truth.json", gallery, fps, face_path)
        err.print(f"{name}: done", highlight=False)
    _print(results, json_file)


def _print(results: dict[str, VideoScore], json_file: Path | None) -> None:
    table = Table(title="video identity benchmark (analysed frames scored against ground truth)")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "video" else "right")
    for name, r in results.items():
        table.add_row(name, *_cells(r))
    out.print(table)
    if json_file:
        write_json(json_file, {k: v.as_json() for k, v in results.items()})


def _cells(r: VideoScore) -> list[str]:
    firsts = [v for v in r.first_name_seconds.values() if v is not None]
    first = f"{sum(firsts) / len(firsts):.1f} / {max(firsts):.1f}" if firsts else "-"
    never = sum(v is None for v in r.first_name_seconds.values())
    coverage = "-" if math.isnan(r.named_coverage) else f"{r.named_coverage:.1%}"
    return [f"{r.idf1:.3f}", str(r.id_switches), f"{r.wrong_name_seconds:.1f}", f"{r.absent_named_seconds:.1f}",
            f"{r.unknown_named_seconds:.1f}", coverage, first, str(never)]


def eval_real(
    folder: Annotated[Path, typer.Argument(help="Real footage: one .mp4, shots.csv, enroll/<First_Last>/")] = Path(
        "../shared/data/real/friends"
    ),
    variant: Annotated[str, typer.Option("--variant", help="all | open (Phoebe not enrolled) | lfw (actors from LFW)")
                       ] = "all",
    lfw: Annotated[Path, typer.Option("--lfw", help="LFW folder, for --variant lfw")] = Path("../shared/data/lfw"),
    fps: Annotated[float, typer.Option("--fps", help="Frames analysed per video second", min=0.1, max=60)] = 5.0,
    baseline: Annotated[bool, typer.Option(help="Also name every analysed frame on its own (identify)")] = True,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the scores as JSON here")] = None,
    why: Annotated[Path | None, typer.Option("--why", help="Write why each track was (not) named here (JSON lines)")
                   ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Play real footage through the live pipeline and score its names shot by shot (close-ups named, wrong
    names), beside the single-frame baseline."""
    from pipelines.eval.real import evaluate_real  # torch: for this command only

    settings = load_config(config)
    with explained(why):
        scores = evaluate_real(settings, analyzer(settings), folder, variant, lfw, fps, baseline)
    table = Table(title=f"{folder.name}, variant {variant}: names per shot")
    for column in ("method", "close-ups named", "first name s (median)", "wrong-name face-frames", "faces scored"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for method, s in scores.items():
        median = s.median_first_name()
        strangers = f" (+{s.stranger_closeups_named} not enrolled)" if s.stranger_closeups_named else ""
        table.add_row(method, f"{s.named} of {s.enrolled_closeups}{strangers}", "-" if median is None else
                      f"{median:.2f}", str(sum(s.wrong_names.values())), str(s.faces))
    out.print(table)
    for method, s in scores.items():
        if s.reviews is not None:
            missed = sum(c.first_name_seconds is None and c.enrolled for c in s.closeups)
            out.print(f"{method}: {len(s.reviews)} tracks ended asking who they are (identity.review), "
                      f"{sum(r.wrong for r in s.reviews)} of them about someone not in the shot; "
                      f"{sum(r.missed_closeup for r in s.reviews)} about a missed close-up (of {missed} missed)")
        if (named := s.time_to_name()) is not None:
            out.print(f"{method}: {named['tracks']} tracks named, {named['median_s']:.2f} s from a track's first face "
                      f"to its name (median; 90th percentile {named['p90_s']:.2f} s; facetrack_time_to_name_seconds)")
    shots = Table(title="close-ups: first name (s from the shot's start) and coverage")
    for column in ("shot", "person", *scores):
        shots.add_column(column)
    for i, c in enumerate(next(iter(scores.values())).closeups):
        cells = [_closeup(s.closeups[i]) for s in scores.values()]
        shots.add_row(c.shot, c.person + ("" if c.enrolled else " (not enrolled)"), *cells)
    out.print(shots)
    for method, s in scores.items():
        if s.wrong_names:
            out.print(f"{method}: wrong names in " + ", ".join(f"{k} ({v})" for k, v in s.wrong_names.items()))
    if json_file:
        write_json(json_file, {k: v.as_json() for k, v in scores.items()})


def _closeup(c) -> str:
    return "never" if c.first_name_seconds is None else f"{c.first_name_seconds:.2f} s, {c.coverage:.0%}"
