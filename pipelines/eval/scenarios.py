"""Hard ground-truth scenarios made from LFW, for the video identity benchmark (``facetrack eval video``).

Each scenario is a recipe and a seed: the seed picks the people (enrolled ones from LFW people
with 6+ photographs, enrolled from their first 3 and shown in a later one; never-enrolled ones
from people with fewer than 6), the recipe says where their faces go, so a test regenerates a
scenario instead of storing a video. ``write_scenario`` writes ``video.avi`` (MJPEG),
``truth.json`` (every frame's faces: person, enrolled or not, box) and ``enroll/<name>/`` (links
to the enrollment photographs, for ``facetrack enroll --dir``).

The recipes: ``group`` (four people in view at once), ``crossing`` (two people of one size at
one height pass each other, then meet and turn back, while a stranger crosses them), ``cut``
(hard cuts put a different person where the last one stood), ``zoom`` (a face grows from 40 to
200 px and shrinks again), ``small`` (faces of 30 to 40 px), ``blur_light`` (focus blur, then
dim and bright light), ``turned`` (three-quarter views).
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from pipelines.eval.synthetic import background, face_patch, paste
from tracker.errors import DatasetError

FACE_IN_PATCH = (0.14, 0.16, 0.86, 0.88)  # where the face lies in the pasted LFW patch (x1 y1 x2 y2 shares)
ENROLL_IMAGES = 3


@dataclass(frozen=True)
class Actor:
    person: str
    enrolled: bool
    image: str  # the LFW photograph shown (never one of the enrollment photographs)
    keys: tuple[tuple[float, float, float, float], ...]  # (t, centre x share, centre y share, face height px)
    layer: int = 0  # higher is in front


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    width: int
    height: int
    fps: float
    seconds: float
    actors: tuple[Actor, ...]
    cuts: tuple[float, ...] = ()  # hard cuts: the backdrop changes
    blur: tuple[tuple[float, float, float], ...] = ()  # (from, to, Gaussian sigma px)
    light: tuple[tuple[float, float, float], ...] = ()  # (from, to, brightness gain)
    enroll: tuple[tuple[str, tuple[str, ...]], ...] = ()  # enrolled person -> enrollment photographs


def _people(lfw: Path, seed: int, enrolled: int, strangers: int) -> tuple[list[tuple[str, list[Path]]], ...]:
    root = lfw / "images_deepfunneled"
    if not root.is_dir():
        raise DatasetError(f"{root}: no LFW images (is --lfw the folder that holds images_deepfunneled/?)")
    photos = {f.name: sorted(f.glob("*.jpg")) for f in sorted(root.iterdir()) if f.is_dir()}
    rich = sorted(n for n, p in photos.items() if len(p) > ENROLL_IMAGES + 2)
    poor = sorted(n for n, p in photos.items() if 0 < len(p) <= ENROLL_IMAGES + 2)
    rng = random.Random(seed)
    return [(n, photos[n]) for n in rng.sample(rich, enrolled)], [(n, photos[n]) for n in rng.sample(poor, strangers)]


def _cast(lfw: Path, seed: int, enrolled: int, strangers: int) -> tuple[list[tuple[str, bool, str]], tuple]:
    """(person, enrolled, photograph shown) for each, enrolled first; and the enrollment photographs."""
    known, unknown = _people(lfw, seed, enrolled, strangers)
    cast = [(n, True, str(p[ENROLL_IMAGES + 1])) for n, p in known] + [(n, False, str(p[0])) for n, p in unknown]
    enroll = tuple((n, tuple(str(x) for x in p[:ENROLL_IMAGES])) for n, p in known)
    return cast, enroll


def _actor(cast: tuple[str, bool, str], *keys: tuple[float, float, float, float], layer: int = 0) -> Actor:
    person, enrolled, image = cast
    return Actor(person, enrolled, image, tuple(keys), layer)


def group(lfw: Path, seed: int = 1) -> Scenario:
    cast, enroll = _cast(lfw, seed, 3, 1)
    actors = tuple(_actor(c, (0.0, 0.16 + 0.22 * i, 0.45 + 0.1 * (i % 2), 80), (6.0, 0.2 + 0.22 * i, 0.5, 90))
                   for i, c in enumerate(cast))
    return Scenario("group", seed, 640, 360, 10.0, 6.0, actors, enroll=enroll)


def crossing(lfw: Path, seed: int = 2) -> Scenario:
    """Two enrolled people of one size at one height pass each other (one hides the other), then meet,
    stand together with one hidden for a second, and turn back the way they came; a stranger crosses both."""
    cast, enroll = _cast(lfw, seed, 2, 1)
    actors = (_actor(cast[0], (0.0, 0.1, 0.5, 90), (2.5, 0.9, 0.5, 90), (4.0, 0.53, 0.5, 90), (5.0, 0.53, 0.5, 90),
                     (7.0, 0.9, 0.5, 90)),
              _actor(cast[1], (0.0, 0.9, 0.5, 90), (2.5, 0.1, 0.5, 90), (4.0, 0.47, 0.5, 90), (5.0, 0.47, 0.5, 90),
                     (7.0, 0.1, 0.5, 90), layer=1),
              _actor(cast[2], (1.0, 0.5, 0.15, 70), (7.0, 0.5, 0.85, 70), layer=2))
    return Scenario("crossing", seed, 640, 360, 10.0, 7.0, actors, enroll=enroll)


def cut(lfw: Path, seed: int = 3) -> Scenario:
    cast, enroll = _cast(lfw, seed, 2, 1)
    shots = ((0.0, 3.0), (3.0, 6.0), (6.0, 9.0))
    actors = tuple(_actor(c, (start, 0.5, 0.5, 100), (end - 1e-6, 0.52, 0.5, 104)) for c, (start, end) in
                   zip(cast, shots))
    return Scenario("cut", seed, 640, 360, 10.0, 9.0, actors, cuts=(3.0, 6.0), enroll=enroll)


def zoom(lfw: Path, seed: int = 4) -> Scenario:
    cast, enroll = _cast(lfw, seed, 1, 1)
    actors = (_actor(cast[0], (0.0, 0.4, 0.5, 40), (3.0, 0.45, 0.5, 200), (6.0, 0.4, 0.5, 40)),
              _actor(cast[1], (0.0, 0.85, 0.4, 70), (6.0, 0.85, 0.45, 70)))
    return Scenario("zoom", seed, 640, 360, 10.0, 6.0, actors, enroll=enroll)


def small(lfw: Path, seed: int = 5) -> Scenario:
    cast, enroll = _cast(lfw, seed, 2, 1)
    actors = tuple(_actor(c, (0.0, 0.2 + 0.3 * i, 0.5, 30 + 5 * i), (6.0, 0.3 + 0.3 * i, 0.5, 32 + 5 * i))
                   for i, c in enumerate(cast))
    return Scenario("small", seed, 640, 360, 10.0, 6.0, actors, enroll=enroll)


def blur_light(lfw: Path, seed: int = 6) -> Scenario:
    cast, enroll = _cast(lfw, seed, 1, 1)
    actors = (_actor(cast[0], (0.0, 0.3, 0.5, 90), (8.0, 0.35, 0.5, 95)),
              _actor(cast[1], (0.0, 0.7, 0.5, 90), (8.0, 0.65, 0.5, 95)))
    return Scenario("blur_light", seed, 640, 360, 10.0, 8.0, actors, blur=((2.0, 4.0, 2.5),),
                    light=((4.0, 6.0, 0.45), (6.0, 8.0, 1.5)), enroll=enroll)


# LFW photographs in which the face is turned about 30-45 degrees (YuNet's landmarks: the nose sits 0.25-0.35
# eye distances off the eyes' midpoint), each person's fifth photograph: the one these scenarios show.
TURNED = ("Hugh_Grant", "Michael_Schumacher", "John_Snow")


def turned(lfw: Path, seed: int = 7) -> Scenario:
    """Three enrolled people in three-quarter view (enrolled from their own, mostly frontal, photographs), and a
    stranger, at 60 to 80 px."""
    known, unknown = _people(lfw, seed, 0, 1)
    photos = {n: sorted((lfw / "images_deepfunneled" / n).glob("*.jpg")) for n in TURNED}
    cast = [(n, True, str(photos[n][ENROLL_IMAGES + 1])) for n in TURNED] + [(n, False, str(p[0])) for n, p in unknown]
    enroll = tuple((n, tuple(str(x) for x in photos[n][:ENROLL_IMAGES])) for n in TURNED)
    actors = tuple(_actor(c, (0.0, 0.14 + 0.24 * i, 0.45 + 0.1 * (i % 2), 60 + 5 * i),
                          (6.0, 0.18 + 0.24 * i, 0.5, 66 + 5 * i)) for i, c in enumerate(cast))
    return Scenario("turned", seed, 640, 360, 10.0, 6.0, actors, enroll=enroll)


RECIPES = {f.__name__: f for f in (group, crossing, cut, zoom, small, blur_light, turned)}


def position(actor: Actor, t: float) -> tuple[float, float, float] | None:
    """Centre x, y (shares) and face height (px) at ``t``; None when the actor is not in view."""
    keys = actor.keys
    if not keys[0][0] <= t <= keys[-1][0]:
        return None
    for (t0, *a), (t1, *b) in zip(keys, keys[1:]):
        if t0 <= t <= t1:
            w = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
            return tuple(float(x + (y - x) * w) for x, y in zip(a, b))
    return tuple(float(v) for v in keys[-1][1:])


def face_box(scenario: Scenario, cx: float, cy: float, face: float, patch_shape: tuple[int, int]) -> tuple:
    """The face's box in frame pixels, for a patch pasted at (cx, cy) shares with the face ``face`` px high."""
    scale = face / (patch_shape[0] * (FACE_IN_PATCH[3] - FACE_IN_PATCH[1]))
    h, w = patch_shape[0] * scale, patch_shape[1] * scale
    x0, y0 = cx * scenario.width - w / 2, cy * scenario.height - h / 2
    fx1, fy1, fx2, fy2 = FACE_IN_PATCH
    return (x0 + fx1 * w, y0 + fy1 * h, x0 + fx2 * w, y0 + fy2 * h)


def render(scenario: Scenario, number: int, backdrops: list[np.ndarray], patches: dict) -> tuple[np.ndarray, list]:
    """Frame ``number`` (RGB) and its true faces ``[{person, enrolled, box}]``, front-most last."""
    t = number / scenario.fps
    frame = backdrops[sum(t >= c for c in scenario.cuts)].copy()
    faces = []
    for actor in sorted(scenario.actors, key=lambda a: a.layer):
        where = position(actor, t)
        if where is None:
            continue
        patch, mask = patches[actor.image]
        scale = where[2] / (patch.shape[0] * (FACE_IN_PATCH[3] - FACE_IN_PATCH[1]))
        paste(frame, patch, mask, where[0] * scenario.width, where[1] * scenario.height, scale)
        box = face_box(scenario, *where, patch.shape[:2])
        cover = _cover(scenario, where, patch.shape[:2], scale)
        faces = [f for f in faces if not _hidden(f["box"], cover)]  # mostly covered by the head in front
        faces.append({"person": actor.person, "enrolled": actor.enrolled, "box": [round(v, 1) for v in box]})
    return _conditions(scenario, t, frame), faces


def _cover(scenario: Scenario, where: tuple[float, float, float], patch_shape: tuple[int, int],
           scale: float) -> tuple[float, float, float, float]:
    """What a pasted patch covers: its feathered ellipse's box (the head and hair, not only the face)."""
    cx, cy = where[0] * scenario.width, where[1] * scenario.height
    half_w, half_h = patch_shape[1] * scale * 0.44, patch_shape[0] * scale * 0.46
    return (cx - half_w, cy - half_h, cx + half_w, cy + half_h)


def _hidden(behind: list[float], front: tuple) -> bool:
    x1, y1 = max(behind[0], front[0]), max(behind[1], front[1])
    x2, y2 = min(behind[2], front[2]), min(behind[3], front[3])
    covered = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return covered > 0.5 * (behind[2] - behind[0]) * (behind[3] - behind[1])


def _conditions(scenario: Scenario, t: float, frame: np.ndarray) -> np.ndarray:
    for start, end, sigma in scenario.blur:
        if start <= t < end:
            frame = cv2.GaussianBlur(frame, (0, 0), sigma)
    for start, end, gain in scenario.light:
        if start <= t < end:
            frame = np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    return frame


def write_scenario(scenario: Scenario, folder: Path) -> Path:
    """``folder``/video.avi, truth.json, scenario.json and enroll/<name>/; returns the video's path."""
    folder.mkdir(parents=True, exist_ok=True)
    shots = range(len(scenario.cuts) + 1)
    backdrops = [_shot(background(scenario.width, scenario.height, seed=7 + i), i) for i in shots]
    patches = {a.image: face_patch(a.image) for a in scenario.actors}
    video = folder / "video.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), scenario.fps,
                             (scenario.width, scenario.height))
    if not writer.isOpened():
        raise DatasetError(f"{video}: cannot write an MJPEG AVI video here")
    frames = []
    try:
        for number in range(int(round(scenario.seconds * scenario.fps))):
            image, faces = render(scenario, number, backdrops, patches)
            writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            frames.append({"number": number, "time": round(number / scenario.fps, 3), "faces": faces})
    finally:
        writer.release()
    (folder / "truth.json").write_text(json.dumps({"fps": scenario.fps, "frames": frames}) + "\n")
    (folder / "scenario.json").write_text(json.dumps(asdict(scenario), indent=2) + "\n")
    _enroll_folder(scenario, folder / "enroll")
    return video


def _shot(backdrop: np.ndarray, number: int) -> np.ndarray:
    """Each shot of a scenario its own look, as a cut to another camera gives: colours turned, upside down."""
    return np.ascontiguousarray(np.roll(backdrop, number, axis=2)[:: (-1) ** number])


def _enroll_folder(scenario: Scenario, root: Path) -> None:
    for person, photos in scenario.enroll:
        (root / person).mkdir(parents=True, exist_ok=True)
        for photo in photos:
            link = root / person / Path(photo).name
            if not link.is_symlink():
                link.symlink_to(Path(photo).resolve())
