"""``facetrack eval lfw``: the LFW pairs protocol through our own detector, alignment and embedder."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.progress import Progress

from tracker.errors import ImageError
from tracker.face.analyzer import FaceAnalyzer
from tracker.faces import Faces
from tracker.images import read_image
from tracker.lfw import Pairs, central_face
from tracker.verification import FoldReport, evaluate_folds, roc_curve

FAR_TARGET = 1e-3
NO_FACE_HANDLING = "aligned with the median landmarks of the faces found in the other images"


@dataclass(frozen=True)
class LfwResult:
    model: str
    model_id: str
    pairs: int
    images: int
    no_face_images: int
    multi_face_images: int
    report: FoldReport
    seconds: float

    def as_json(self) -> dict:
        r = self.report
        return {
            "model": self.model, "model_id": self.model_id, "pairs": self.pairs, "images": self.images,
            "accuracy_mean": r.accuracy_mean, "accuracy_std": r.accuracy_std,
            "val_at_far_1e-3": r.val_mean, "val_std": r.val_std, "far_measured": r.far_mean,
            "auc": r.auc, "threshold": r.threshold,
            "no_face_images": self.no_face_images, "no_face_handling": NO_FACE_HANDLING,
            "multi_face_images": self.multi_face_images, "seconds": round(self.seconds, 1),
            "folds": asdict(r)["fold_accuracies"], "fold_thresholds": r.fold_thresholds,
        }


def _embed_all(analyzer: FaceAnalyzer, paths: list[Path], batch: int, progress: Progress):
    """Each image's embedding (its central face), streaming: only faceless images are kept for later."""
    embeddings: list[np.ndarray | None] = []
    found: list[Faces] = []
    faceless: list[tuple[int, np.ndarray]] = []
    multi = 0
    task = progress.add_task("detecting and embedding", total=len(paths))
    for start in range(0, len(paths), batch):
        images = [read_image(p) for p in paths[start : start + batch]]
        faces = []
        for offset, (image, detected) in enumerate(zip(images, analyzer.detector.detect_batch(images))):
            multi += len(detected) > 1
            faces.append(central_face(detected, *image.shape[:2]))
            if not len(detected):
                faceless.append((start + offset, image))
        for analysis in analyzer.embed_faces(images, faces):
            embeddings.append(analysis.embeddings[0] if len(analysis) else None)
            found += [analysis.faces] if len(analysis) else []
        progress.advance(task, len(images))
    _embed_faceless(analyzer, faceless, found, embeddings)
    return np.stack(embeddings), len(faceless), multi


def _embed_faceless(analyzer: FaceAnalyzer, faceless: list, found: list[Faces], embeddings: list) -> None:
    if not faceless:
        return
    if not found:
        raise ImageError("no face was found in any LFW image; check the detector settings")
    stand_in = Faces(
        np.median(np.concatenate([f.boxes for f in found]), axis=0)[None],
        np.zeros(1, np.float32),
        np.median(np.concatenate([f.landmarks for f in found]), axis=0)[None],
    )
    images = [image for _, image in faceless]
    for (index, _), analysis in zip(faceless, analyzer.embed_faces(images, [stand_in] * len(images))):
        embeddings[index] = analysis.embeddings[0]


def evaluate_lfw(analyzer: FaceAnalyzer, pairs: Pairs, batch: int, progress: Progress) -> tuple[LfwResult, np.ndarray]:
    """Run the protocol; returns the result and each pair's squared distance."""
    started = time.monotonic()
    e, no_face, multi = _embed_all(analyzer, pairs.images, batch, progress)
    distances = ((e[pairs.first] - e[pairs.second]) ** 2).sum(axis=1)
    report = evaluate_folds(distances, pairs.same, pairs.fold, FAR_TARGET)
    result = LfwResult(analyzer.embedder.name, analyzer.embedder.model_id, len(pairs), len(pairs.images), no_face,
                       multi, report, time.monotonic() - started)
    return result, distances


def write_roc(path: Path, distances: np.ndarray, same: np.ndarray, result: LfwResult) -> None:
    """The ROC curve as a PNG, false-accept rate on a log axis."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    far, tar = roc_curve(distances, same)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    ax.plot(np.maximum(far, 1e-4), tar, lw=1.5)
    ax.axvline(FAR_TARGET, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1)
    ax.set_ylim(0.8, 1.001)
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    r = result.report
    ax.set_title(f"LFW {result.model}: acc {r.accuracy_mean:.4f}, AUC {r.auc:.4f}, VAL@1e-3 {r.val_mean:.3f}")
    ax.grid(True, which="both", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_json(path: Path, result: LfwResult) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.as_json(), indent=2) + "\n")
