"""``facetrack eval real``: real footage with per-shot identity truth, through the live pipeline and,
beside it, the single-frame baseline (``identify`` on every analysed frame, same gallery, same threshold).

The folder holds a video, a ``shots.csv`` (one row per shot: its first frame, the frame after its
last, ``faces_visible``: who can be seen in it, ``closeup``: who is large for the whole shot) and
``enroll/<First_Last>/`` photographs. Scored per shot (``score_shots``, pure):

- a **close-up** (each person of ``closeup``) is named when that name was shown on some face during
  the shot; its **time to first name** is from the shot's first frame, its **coverage** the share
  of the shot's analysed frames that showed it;
- a **wrong name** is a face on an analysed frame carrying a name outside the shot's ``faces_visible``
  (a swap between two people who are both in view cannot be seen with per-shot truth);
- a **review** (``identity.review``, live only) is **wrong** when its candidate is in none of the shots its track's
  faces were in (``faces_visible``), and it **asks about a missed close-up** when its candidate is a close-up of one
  of those shots that was never named.

Variants (the folder's README): ``all`` (everyone enrolled from ``enroll/``), ``open`` (Phoebe left
out: her close-ups must stay unknown), ``lfw`` (Chandler, Joey and Rachel enrolled from their actors'
LFW photographs only).
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2

from gallery.enroll import Enroller
from gallery.identify import Identifier
from gallery.store import GalleryStore
from pipelines.eval.video import play
from pipelines.eval.video_metrics import SeenFace
from tracker.config import Config
from tracker.errors import DatasetError
from tracker.events import Event
from tracker.face.analyzer import FaceAnalyzer

FRAME_RATE = 24000 / 1001  # the scene's own rate (its container reports another; see its README)
VARIANTS = ("all", "open", "lfw")
LEFT_OUT = "Phoebe"  # the ``open`` variant's stranger
LFW_ACTORS = {"Chandler": "Matthew_Perry", "Joey": "Matt_LeBlanc", "Rachel": "Jennifer_Aniston"}


@dataclass(frozen=True)
class Shot:
    name: str
    start: int  # first frame
    end: int  # the frame after its last
    visible: frozenset[str]
    closeup: frozenset[str]


@dataclass
class CloseUp:
    shot: str
    person: str
    enrolled: bool
    first_name_seconds: float | None  # None: never named
    coverage: float  # share of the shot's analysed frames showing the name


@dataclass(frozen=True)
class Review:
    track: int
    candidate: str
    shots: tuple[str, ...]  # the shots the track's faces were in
    wrong: bool  # the candidate is in none of them
    missed_closeup: bool  # the candidate is a close-up of one of them that was never named


@dataclass
class RealScore:
    frames: int  # analysed frames scored
    faces: int  # faces on them
    closeups: list[CloseUp]
    wrong_names: dict[str, int] = field(default_factory=dict)  # shot -> face-frames with a name not in view
    track_names: list[float] | None = None  # live: each named track's seconds from its first face to its name
    reviews: list[Review] | None = None  # live: the tracks that ended asking who they are

    @property
    def named(self) -> int:
        return sum(c.first_name_seconds is not None for c in self.closeups if c.enrolled)

    @property
    def enrolled_closeups(self) -> int:
        return sum(c.enrolled for c in self.closeups)

    @property
    def stranger_closeups_named(self) -> int:
        return sum(c.first_name_seconds is not None for c in self.closeups if not c.enrolled)

    def median_first_name(self) -> float | None:
        times = sorted(c.first_name_seconds for c in self.closeups if c.enrolled and c.first_name_seconds is not None)
        return times[len(times) // 2] if times else None

    def time_to_name(self) -> dict | None:
        """The named tracks' seconds from their first face to their name (``facetrack_time_to_name_seconds``):
        how many, the median and the 90th percentile (None: not measured, or no track named)."""
        if not self.track_names:
            return None
        times = sorted(self.track_names)
        return {"tracks": len(times), "median_s": times[len(times) // 2],
                "p90_s": times[min(len(times) - 1, int(0.9 * len(times)))]}

    def as_json(self) -> dict:
        return {"frames": self.frames, "faces": self.faces, "closeups_named": self.named,
                "closeups_enrolled": self.enrolled_closeups, "median_first_name_s": self.median_first_name(),
                "time_to_name": self.time_to_name(),
                "wrong_name_face_frames": sum(self.wrong_names.values()), "wrong_names": self.wrong_names,
                "closeups": [c.__dict__ for c in self.closeups],
                **({"reviews": [r.__dict__ for r in self.reviews]} if self.reviews is not None else {})}


def score_reviews(shots: list[Shot], seen: dict[int, list[SeenFace]], asked: dict[int, str],
                  closeups: list[CloseUp]) -> list[Review]:
    """Each review (``asked``: track -> candidate) against the shots its track's faces were in."""
    missed = {(c.shot, c.person) for c in closeups if c.enrolled and c.first_name_seconds is None}
    reviews = []
    for track, candidate in sorted(asked.items()):
        frames = [n for n, faces in seen.items() if any(f.track == track for f in faces)]
        inside = [s for s in shots if any(s.start <= n < s.end for n in frames)]
        reviews.append(Review(track, candidate, tuple(s.name for s in inside),
                              not any(candidate in s.visible for s in inside),
                              any((s.name, candidate) in missed for s in inside)))
    return reviews


def read_shots(path: Path) -> list[Shot]:
    """The shots with video, in order."""
    try:
        with path.open(newline="") as file:
            rows = list(csv.DictReader(file))
        return [Shot(r["shot"], int(r["concat_start_frame"]), int(r["concat_end_frame_excl"]),
                     _people(r["faces_visible"]), _people(r["closeup"])) for r in rows if r["concat_start_frame"]]
    except OSError as error:
        raise DatasetError(f"{path}: cannot read the shots: {error.strerror or error}") from None
    except (KeyError, ValueError) as error:
        raise DatasetError(f"{path}: not a shots.csv as facetrack eval real reads it ({error!r})") from None


def _people(cell: str) -> frozenset[str]:
    return frozenset(p.strip() for p in cell.split(";") if p.strip())


def cut_frames(shots: list[Shot]) -> list[int]:
    """The first frame of every shot after the first: the hard cuts."""
    return [s.start for s in shots[1:]]


def score_shots(shots: list[Shot], seen: dict[int, list[SeenFace]], enrolled: set[str]) -> RealScore:
    """Score each analysed frame's names (``seen``, by frame number) against the shots' truth."""
    closeups, wrong, faces = [], {}, 0
    for shot in shots:
        frames = sorted(n for n in seen if shot.start <= n < shot.end)
        faces += sum(len(seen[n]) for n in frames)
        bad = sum(f.name is not None and f.name not in shot.visible for n in frames for f in seen[n])
        if bad:
            wrong[shot.name] = bad
        for person in sorted(shot.closeup):
            showing = [n for n in frames if any(f.name == person for f in seen[n])]
            first = (showing[0] - shot.start) / FRAME_RATE if showing else None
            closeups.append(CloseUp(shot.name, person, person in enrolled, first,
                                    len(showing) / len(frames) if frames else 0.0))
    return RealScore(len(seen), faces, closeups, wrong)


def enroll_variant(analyzer: FaceAnalyzer, store: GalleryStore, config: Config, folder: Path, variant: str,
                   lfw: Path) -> set[str]:
    """Enroll the variant's people into ``store``; returns their names."""
    enroller = Enroller(analyzer, store, config.enroll)
    if variant == "lfw":
        sources = {name: sorted((lfw / "images_deepfunneled" / actor).glob("*.jpg")) for name, actor in
                   LFW_ACTORS.items()}
    else:
        sources = {person.name.split("_")[0]: sorted(person.glob("*.jpg"))
                   for person in sorted((folder / "enroll").iterdir()) if person.is_dir()}
        if variant == "open":
            sources.pop(LEFT_OUT, None)
    for name, photos in sources.items():
        if not photos:
            raise DatasetError(f"{folder if variant != 'lfw' else lfw}: no photographs of {name}")
        enroller.enroll(name, *enroller.from_images(photos))
    return set(sources)


def single_frame(analyzer: FaceAnalyzer, config: Config, video: Path, gallery: Path,
                 frames: set[int]) -> dict[int, list[SeenFace]]:
    """The baseline: every frame of ``frames`` named on its own, as ``facetrack identify`` names an image."""
    with GalleryStore(gallery) as store:
        identifier = Identifier(analyzer, store, config.match)
    seen: dict[int, list[SeenFace]] = {}
    capture = cv2.VideoCapture(str(video))
    number = 0
    try:
        while number <= max(frames, default=-1):
            ok, bgr = capture.read()
            if not ok:
                break
            if number in frames:
                named = identifier.identify(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                seen[number] = [SeenFace(-1, f.name, f.box) for f in named]
            number += 1
    finally:
        capture.release()
    return seen


def evaluate_real(config: Config, analyzer: FaceAnalyzer, folder: Path, variant: str, lfw: Path, fps: float = 5.0,
                  baseline: bool = True) -> dict[str, RealScore]:
    """The live pipeline's score (``live``) and, with ``baseline``, the single-frame one (``single frame``)."""
    if variant not in VARIANTS:
        raise DatasetError(f"--variant {variant}: there are {', '.join(VARIANTS)}")
    videos = sorted(folder.glob("*.mp4"))
    if not (folder / "shots.csv").is_file() or len(videos) != 1:
        raise DatasetError(f"{folder}: needs shots.csv and one .mp4 video (found {len(videos)})")
    shots = read_shots(folder / "shots.csv")
    with tempfile.TemporaryDirectory() as scratch:
        gallery = Path(scratch) / "gallery.db"
        with GalleryStore(gallery) as store:
            enrolled = enroll_variant(analyzer, store, config, folder, variant, lfw)
        named: list[float] = []
        asked: dict[int, str] = {}

        def note(event: Event) -> None:
            if event.named_after_seconds is not None:
                named.append(event.named_after_seconds)
            if event.type == "identity.review" and event.track_id is not None:
                asked[event.track_id] = event.name

        seen = play(config, videos[0], gallery, fps, analyzer, listeners=(note,))
        live = score_shots(shots, seen, enrolled)
        scores = {"live": replace(live, track_names=named,
                                  reviews=score_reviews(shots, seen, asked, live.closeups))}
        if baseline:
            alone = single_frame(analyzer, config, videos[0], gallery, set(seen))
            scores["single frame"] = score_shots(shots, alone, enrolled)
    return scores
