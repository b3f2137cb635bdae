"""Test and demo videos made from LFW: real faces move across a background, one after another.

A plan names the people: the enrolled ones (their first ``enroll_images`` LFW photographs go
into the gallery, a later one is shown in the video) and people never enrolled. Each
appearance is one face sliding across the frame for ``duration`` seconds and growing a
little (walking towards the camera), with a gap of empty background between appearances,
so every appearance should become exactly one track. The video is written as MJPEG AVI
(readable by OpenCV and by GStreamer, which the RTSP tests re-encode to H.264), beside a
``plan.json`` and an ``enroll/<name>/`` folder of links to the enrollment photographs
(``facetrack enroll --dir``). Run ``python -m pipelines.eval.synthetic --help``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
import typer

from tracker.errors import DatasetError

ENROLLED = ("Colin_Powell", "Junichiro_Koizumi", "Donald_Rumsfeld", "Gerhard_Schroeder")
ORDER = ("Colin_Powell", "Aaron_Eckhart", "Junichiro_Koizumi", "Donald_Rumsfeld", "Adam_Sandler",
         "Gerhard_Schroeder")


@dataclass(frozen=True)
class Appearance:
    name: str
    enrolled: bool
    image: str  # the LFW photograph shown
    start: float  # seconds into the video
    duration: float
    lane: float  # vertical centre of the face, share of the frame height


@dataclass(frozen=True)
class Plan:
    width: int
    height: int
    fps: float
    seconds: float
    appearances: list[Appearance]
    enroll: dict[str, list[str]]  # enrolled name -> LFW photographs for the gallery

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def lfw_photos(lfw: Path, name: str) -> list[Path]:
    folder = lfw / "images_deepfunneled" / name
    photos = sorted(folder.glob("*.jpg"))
    if not photos:
        raise DatasetError(f"{folder}: no LFW photographs (is --lfw the folder that holds images_deepfunneled/?)")
    return photos


def make_plan(lfw: Path, order: tuple[str, ...] = ORDER, enrolled: tuple[str, ...] = ENROLLED,
              enroll_images: int = 3, duration: float = 3.0, gap: float = 1.0, lead: float = 1.0,
              tail: float = 2.0, size: tuple[int, int] = (640, 360), fps: float = 10.0) -> Plan:
    """``lead`` seconds of background, then each person in ``order`` for ``duration`` seconds,
    ``gap`` seconds apart, then ``tail`` seconds of background. A person named again in ``order``
    comes back with another photograph (a later visit)."""
    appearances, enroll, t, visits = [], {}, lead, {}
    for i, name in enumerate(order):
        photos = lfw_photos(lfw, name)
        known = name in enrolled
        visit = visits[name] = visits.get(name, -1) + 1
        first = enroll_images if known else 0
        if len(photos) <= first + visit:
            raise DatasetError(f"{name}: needs more than {first + visit} LFW photographs to enroll and show")
        if known:
            enroll[name] = [str(p) for p in photos[:enroll_images]]
        shown = photos[first + visit]
        appearances.append(Appearance(name, known, str(shown), round(t, 3), duration, (0.42, 0.58)[i % 2]))
        t += duration + gap
    return Plan(size[0], size[1], fps, round(t - gap + tail, 3), appearances, enroll)


def background(width: int, height: int, seed: int = 7) -> np.ndarray:
    """A calm, textured RGB backdrop: a vertical gradient with soft blotches, no faces."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height)[:, None, None]
    image = (1 - y) * np.array([150, 170, 190]) + y * np.array([90, 85, 80])
    noise = cv2.resize(rng.uniform(-25, 25, (9, 16, 3)), (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def face_patch(photo: str) -> tuple[np.ndarray, np.ndarray]:
    """The face region of an LFW photograph (RGB) and a feathered elliptical mask (0-1)."""
    bgr = cv2.imread(photo)
    if bgr is None:
        raise DatasetError(f"{photo}: cannot be read as an image")
    patch = cv2.cvtColor(bgr[45:205, 55:195], cv2.COLOR_BGR2RGB)
    h, w = patch.shape[:2]
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (w // 2, h // 2), (w // 2 - 8, h // 2 - 6), 0, 0, 360, 1.0, -1)
    return patch, cv2.GaussianBlur(mask, (0, 0), 5)[..., None]


def paste(frame: np.ndarray, patch: np.ndarray, mask: np.ndarray, cx: float, cy: float, scale: float) -> None:
    patch = cv2.resize(patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    mask = cv2.resize(mask, (patch.shape[1], patch.shape[0]), interpolation=cv2.INTER_LINEAR)[..., None]
    h, w = patch.shape[:2]
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + w, frame.shape[1]), min(y0 + h, frame.shape[0])
    if fx1 <= fx0 or fy1 <= fy0:
        return
    region = frame[fy0:fy1, fx0:fx1].astype(np.float32)
    p = patch[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0].astype(np.float32)
    m = mask[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
    frame[fy0:fy1, fx0:fx1] = (m * p + (1 - m) * region).astype(np.uint8)


def render_frame(plan: Plan, t: float, backdrop: np.ndarray, patches: dict[str, tuple]) -> np.ndarray:
    frame = backdrop.copy()
    for a in plan.appearances:
        progress = (t - a.start) / a.duration
        if 0.0 <= progress < 1.0:
            cx = plan.width * (0.2 + 0.6 * progress)
            cy = plan.height * a.lane
            paste(frame, *patches[a.image], cx, cy, 0.9 + 0.25 * progress)
    return frame


def write_video(plan: Plan, path: Path) -> Path:
    """Render ``plan`` to an MJPEG AVI at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), plan.fps, (plan.width, plan.height))
    if not writer.isOpened():
        raise DatasetError(f"{path}: cannot write an MJPEG AVI video here")
    backdrop = background(plan.width, plan.height)
    patches = {a.image: face_patch(a.image) for a in plan.appearances}
    try:
        for number in range(int(round(plan.seconds * plan.fps))):
            frame = render_frame(plan, number / plan.fps, backdrop, patches)
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path


def write_demo(plan: Plan, folder: Path) -> Path:
    """``folder``/video.avi, plan.json and enroll/<name>/ (links to the LFW photographs)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, photos in plan.enroll.items():
        person = folder / "enroll" / name
        person.mkdir(parents=True, exist_ok=True)
        for photo in photos:
            link = person / Path(photo).name
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(Path(photo).resolve())
    (folder / "plan.json").write_text(plan.to_json() + "\n")
    return write_video(plan, folder / "video.avi")


def main(
    lfw: Annotated[Path, typer.Option("--lfw", help="LFW folder (holds images_deepfunneled/)")] = Path(
        "../shared/data/lfw"
    ),
    out: Annotated[Path, typer.Option("--out", help="Folder for video.avi, plan.json and enroll/")] = Path(
        "data/demo"
    ),
    duration: Annotated[float, typer.Option(help="Seconds each face is in view")] = 3.0,
    tail: Annotated[float, typer.Option(help="Seconds of empty background at the end")] = 2.0,
) -> None:
    """Write a video of enrolled and never-enrolled LFW people crossing the view, one after another."""
    plan = make_plan(lfw, duration=duration, tail=tail)
    video = write_demo(plan, out)
    shown = ", ".join(f"{a.name}{'' if a.enrolled else ' (not enrolled)'}" for a in plan.appearances)
    print(f"{video}: {plan.seconds:.0f} s at {plan.fps:g} fps; {shown}")


if __name__ == "__main__":
    typer.run(main)
