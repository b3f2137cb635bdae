"""``facetrack train``: a head on top of the frozen embedder, trained with the triplet loss and semi-hard mining
on LFW people outside one test fold (the head is then evaluated on that fold only)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli.console import DEFAULT_CONFIG, ConfigOption, analyzer, out, progress, write_json
from pipelines.train.folds import fold_people, refuse_test_people, training_images
from tracker.config import load_config
from tracker.lfw import read_pairs


def train(
    root: Annotated[Path, typer.Option("--root", help="LFW folder (holds images_deepfunneled/ and pairs.txt)")],
    out_file: Annotated[Path, typer.Option("--out", help="Where the head's weights go (and a .json record)")],
    fold: Annotated[int, typer.Option("--fold", min=1, max=10, help="The test fold whose people are left out")] = 1,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Training steps (batches)")] = 2000,
    dim: Annotated[int | None, typer.Option("--dim", min=8, help="Output dimensions (default: the base's)")] = None,
    sizes: Annotated[str, typer.Option("--sizes", help="Face sizes to embed each photo at: full and/or px")] =
        "full,48,32,26",
    margin: Annotated[float, typer.Option("--margin", min=0.01, max=2.0,
                                          help="α as a share of the model's verification threshold")] = 0.5,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Train a head with FaceNet's triplet loss (online semi-hard negatives in batches of 45 people x 4 faces)."""
    from pipelines.train.data import cached_faces  # torch and the models: for this command only
    from pipelines.train.heads import save_head  # torch
    from pipelines.train.loop import train_head  # torch

    settings = load_config(config)
    test_people = fold_people(read_pairs(root, root / "pairs.txt"), fold)
    images = training_images(root, excluded=test_people)
    refuse_test_people(set(images), test_people, fold)
    face_sizes = _sizes(sizes)
    face_path = analyzer(settings)
    alpha = margin * face_path.verify_threshold
    with progress() as bar:
        faces = cached_faces(face_path, images, Path(settings.models.cache_dir), bar, face_sizes)
        training = train_head(faces, steps, bar, dim_out=dim, alpha=alpha)
    record = {"base": face_path.embedder.model_id, "fold": fold, "test_people_left_out": len(test_people),
              "people": len(faces.people), "faces": len(faces.vectors), "sizes": sizes, "alpha": alpha,
              "steps": steps, "losses": training.losses[:: max(1, steps // 100)],
              "command": shlex.join(["facetrack", *sys.argv[1:]])}
    head_id = save_head(out_file, training.head, record)
    first, last = training.losses[: max(1, steps // 20)], training.losses[-max(1, steps // 20):]
    out.print(f"{head_id}: {len(faces.people)} people, {len(faces.vectors)} faces; loss "
              f"{sum(first) / len(first):.4f} -> {sum(last) / len(last):.4f}; written to {out_file}", highlight=False)


def eval_heads(
    root: Annotated[Path, typer.Option("--root", help="LFW folder (holds images_deepfunneled/ and pairs.txt)")],
    steps: Annotated[int, typer.Option("--steps", min=1, help="Training steps per fold's head")] = 2000,
    sizes: Annotated[str, typer.Option("--sizes", help="Face sizes the training photos are embedded at")] =
        "full,48,32,26",
    probe_face: Annotated[str, typer.Option("--probe-face", help="Probe sizes: full and/or px")] = "full,48,32,26",
    margin: Annotated[float, typer.Option("--margin", min=0.01, max=2.0,
                                          help="α as a share of the model's verification threshold")] = 0.5,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON here")] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """LFW View 2 with a head per fold, trained on the other folds' people only, against the frozen embedder."""
    from pipelines.train.evaluate import ten_folds  # torch and the models: for this command only

    settings = load_config(config)
    face_path = analyzer(settings)
    pairs = read_pairs(root, root / "pairs.txt")
    with progress() as bar:
        report = ten_folds(face_path, root, pairs, Path(settings.models.cache_dir), bar, _sizes(sizes),
                           _sizes(probe_face), steps, margin * face_path.verify_threshold)
    if json_file:
        write_json(json_file, {"base": face_path.embedder.model_id, "steps": steps, "sizes": sizes,
                               "margin": margin, "probes": report})
    table = Table(title=f"LFW View 2, a head per fold ({steps} steps), {face_path.embedder.model_id}")
    for column in ("probe", "frozen accuracy", "trained accuracy", "frozen VAL@1e-3", "trained VAL@1e-3"):
        table.add_column(column, justify="right")
    for size, row in report.items():
        f, t = row["frozen"], row["trained"]
        table.add_row(size, f"{f['accuracy']:.4f}", f"{t['accuracy']:.4f}", f"{f['val_at_far_1e-3']:.4f}",
                      f"{t['val_at_far_1e-3']:.4f}")
    out.print(table)


def _sizes(text: str) -> tuple[int | None, ...]:
    return tuple(None if s.strip() == "full" else int(s) for s in text.split(","))
