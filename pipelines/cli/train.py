"""``facetrack train``: a head on top of the frozen embedder, trained with the triplet loss and semi-hard mining
on LFW people outside one test fold (the head is then evaluated on that fold only)."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli.console import (
    DEFAULT_CONFIG,
    ConfigOption,
    analyzer,
    gallery_location,
    out,
    progress,
    write_json,
)
from pipelines.train.folds import fold_people, refuse_test_people, training_images
from tracker.config import load_config
from tracker.lfw import read_pairs

Views = Annotated[str, typer.Option("--views", help="Camera views each training photo is embedded in: full, a "
                                 "face size in px, blur, jpeg, gamma, ir, joined with + (pipelines/eval/views.py)")]
Margin = Annotated[float, typer.Option("--margin", min=0.01, max=2.0,
                                       help="α as a share of the model's verification threshold")]
Rate = Annotated[float, typer.Option("--lr", min=1e-6, max=1.0, help="Adam's learning rate")]
Compatible = Annotated[bool, typer.Option("--compatible", help="Also learn the cross term (head against the base "
                                          "model's embeddings), so the head's faces compare with an old gallery")]
Dim = Annotated[int | None, typer.Option("--dim", min=8, help="Output dimensions (default: the base's; 128 for "
                                         "128-byte codes)")]
TRAIN_VIEWS = "full,48,32,26"


def train(
    root: Annotated[Path, typer.Option("--root", help="LFW folder (holds images_deepfunneled/ and pairs.txt)")],
    out_file: Annotated[Path | None, typer.Option("--out", help="Where the head's weights go (and a .json "
                                                  "record); default: models.cache_dir/heads/<id>.pt")] = None,
    fold: Annotated[int, typer.Option("--fold", min=1, max=10, help="The test fold whose people are left out")] = 1,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Training steps (batches)")] = 2000,
    dim: Dim = None,
    views: Views = TRAIN_VIEWS,
    margin: Margin = 0.2,
    lr: Rate = 1e-4,
    compatible: Compatible = False,
    gallery: Annotated[str | None, typer.Option("--gallery", "-g", help="Also train on this gallery's people "
                                                "(file or postgresql:// URL; at least 10 with two faces)")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Train a head with FaceNet's triplet loss (online semi-hard negatives in batches of 45 people x 4 faces),
    keeping the step with the best VAL on held-out training people."""
    from pipelines.eval.views import views as parse_views  # cv2, as the rest
    from pipelines.train.data import cached_faces, joined, site_faces  # torch and the models: for this command
    from pipelines.train.heads import save_head  # torch
    from pipelines.train.loop import train_head  # torch
    from pipelines.train.measure import measure_head  # torch

    settings = load_config(config)
    pairs = read_pairs(root, root / "pairs.txt")
    test_people = fold_people(pairs, fold)
    images = training_images(root, excluded=test_people)
    refuse_test_people(set(images), test_people, fold)
    train_views = parse_views(views)
    face_path = analyzer(settings)
    alpha = margin * face_path.verify_threshold
    started = time.monotonic()
    site = site_faces(gallery_location(settings, gallery), face_path.embedder.model_id) if gallery else None
    with progress() as bar:
        faces = cached_faces(face_path, images, Path(settings.models.cache_dir), bar, train_views)
        lfw_people = len(faces.people)
        faces = joined(faces, site) if site else faces
        training = train_head(faces, steps, bar, dim_out=dim, alpha=alpha, lr=lr, compatible=compatible)
        calibration = measure_head(face_path, training.head, root, pairs, fold, Path(settings.models.cache_dir), bar)
    record = {"base": face_path.embedder.model_id, "fold": fold, "test_people_left_out": len(test_people),
              "people": len(faces.people), "site_people": len(faces.people) - lfw_people,
              "faces": len(faces.vectors), "views": views, "alpha": alpha,
              "lr": lr, "compatible": compatible, "steps": steps, "best_step": training.best_step,
              "held_out_val": training.checks, "losses": training.losses[:: max(1, steps // 100)],
              "calibration": calibration, "seconds": round(time.monotonic() - started, 1),
              "command": shlex.join(["facetrack", *sys.argv[1:]])}
    head_id, written = save_head(out_file, Path(settings.models.cache_dir), training.head, record)
    first, last = training.losses[: max(1, steps // 20)], training.losses[-max(1, steps // 20):]
    held_out = max((v for _, v in training.checks), default=float("nan"))
    use = f'models.head = "{head_id}"' if out_file is None else f'models.head = "{written}"'
    out.print(f"{head_id}: {len(faces.people)} people, {len(faces.vectors)} faces; loss "
              f"{sum(first) / len(first):.4f} -> {sum(last) / len(last):.4f}; kept step {training.best_step} "
              f"(held-out VAL {held_out:.4f}); verification threshold {calibration['verify_threshold']:.3f} "
              f"on fold {fold}'s pairs; written to {written}; use it with {use}", highlight=False)


def eval_heads(
    root: Annotated[Path, typer.Option("--root", help="LFW folder (holds images_deepfunneled/ and pairs.txt)")],
    steps: Annotated[int, typer.Option("--steps", min=1, help="Training steps per fold's head")] = 2000,
    views: Views = TRAIN_VIEWS,
    probes: Annotated[str, typer.Option("--probes", help="Probe views (as --views)")] = "full,48,32,26",
    dim: Dim = None,
    margin: Margin = 0.2,
    lr: Rate = 1e-4,
    compatible: Compatible = False,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON here")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """LFW View 2 with a head per fold, trained on the other folds' people only, against the frozen embedder."""
    from pipelines.eval.views import views as parse_views  # cv2, as the rest
    from pipelines.train.evaluate import ten_folds  # torch and the models: for this command only

    settings = load_config(config)
    train_views, probe_views = parse_views(views), parse_views(probes)
    face_path = analyzer(settings)
    pairs = read_pairs(root, root / "pairs.txt")
    with progress() as bar:
        report = ten_folds(face_path, root, pairs, Path(settings.models.cache_dir), bar, train_views, probe_views,
                           steps=steps, dim_out=dim, alpha=margin * face_path.verify_threshold, lr=lr,
                           compatible=compatible)
    if json_file:
        write_json(json_file, {"base": face_path.embedder.model_id, "steps": steps, "views": views, "dim": dim,
                               "margin": margin, "lr": lr, "compatible": compatible,
                               "command": shlex.join(["facetrack", *sys.argv[1:]]), **report})
    table = Table(title=f"LFW View 2, a head per fold ({steps} steps), {face_path.embedder.model_id}; training "
                        f"{report['training_seconds'] / 60:.1f} min")
    rows = list(next(iter(report["probes"].values())))[:-1]  # frozen, trained, and cross or codes
    for column in ("probe", *(f"{row} {what}" for what in ("accuracy", "VAL@1e-3") for row in rows)):
        table.add_column(column, justify="right")
    for name, scored in report["probes"].items():
        table.add_row(name, *(f"{scored[row][what]:.4f}" for what in ("accuracy", "val_at_far_1e-3")
                              for row in rows))
    out.print(table)
    out.print("kept steps per fold: " + ", ".join(str(h["best_step"]) for h in report["heads"]), highlight=False)
