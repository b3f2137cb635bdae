"""``facetrack reviews``: answer the tracks that ended almost named (``identity.review``): yes, no, someone else,
undo, with the rules of ``gallery/reviews.py`` (the dashboard and ``/api/reviews`` answer the same way)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from gallery.enroll import ENROLLED
from gallery.reviews import NO, OTHER, YES, Reviews
from gallery.store import GalleryStore
from pipelines.cli.console import DEFAULT_CONFIG, ConfigOption, GalleryOption, err, gallery_location, out
from tracker.config import load_config
from tracker.images import write_image

reviews_app = typer.Typer(help="Answer the tracks that ended almost named: is this the person they resemble?",
                          no_args_is_help=True)


@reviews_app.command("list")
def list_reviews(
    every: Annotated[bool, typer.Option("--all", help="Also the answered ones")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write each review's best face here")] = None,
    gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """The reviews waiting for an answer, newest first."""
    settings = load_config(config)
    with GalleryStore(gallery_location(settings, gallery)) as store:
        reviews = Reviews(store)
        found = reviews.items(answered=every)
        table = Table(title=f"{store.path}: is this…?")
        for column in ("review", "candidate", "camera", "track", "faces", "short of the name", "ended", "answer"):
            table.add_column(column)
        for r in found:
            when = datetime.datetime.fromtimestamp(r.created_at).strftime("%Y-%m-%d %H:%M:%S")
            answer = "" if r.answer is None else (f"not {r.name}" if r.answer == NO else f"{r.answered_as}")
            table.add_row(str(r.id), r.name, r.camera, str(r.track_id), str(r.faces), f"{r.to_bound:.1f}", when,
                          answer)
            if out_dir and (faces := reviews.faces(r.id)):
                write_image(out_dir / f"review{r.id}.jpg", faces[0].crop)
    out.print(table)


@reviews_app.command("answer")
def answer(
    review: int,
    said: Annotated[str | None, typer.Argument(help="yes (the candidate) or no (not the candidate)")] = None,
    someone: Annotated[str | None, typer.Option("--someone", help="Someone else: their name (new or enrolled)")] = None,
    gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Answer a review: yes adds its faces to the candidate (those that pass the enrolment and audit checks), no
    records them as not the candidate, --someone NAME adds them to NAME."""
    if (said is None) == (someone is None) or said not in (None, YES, NO):
        raise typer.BadParameter("say yes, no, or --someone NAME (one of them)")
    settings = load_config(config)
    with GalleryStore(gallery_location(settings, gallery)) as store:
        done = Reviews(store).answer(review, said or OTHER, settings, someone)
    for o in done.outcomes:
        if o.status not in (ENROLLED, "rejected"):
            err.print(f"[yellow]{o.status}[/yellow] {escape(o.source)}: {escape(o.reason)}", highlight=False)
    r = done.review
    learnt = sum(o.status in (ENROLLED, "rejected") for o in done.outcomes)
    what = f"not {r.name}: {learnt} face(s) rejected as theirs" if r.answer == NO else \
        f"{r.answered_as}: {learnt} face(s) added as references"
    out.print(f"review {r.id}: {what}", highlight=False, markup=False)


@reviews_app.command("undo")
def undo(review: int, gallery: GalleryOption = None, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Take an answer back: the faces it added or rejected go, and the review waits again."""
    settings = load_config(config)
    with GalleryStore(gallery_location(settings, gallery)) as store:
        _, left = Reviews(store).undo(review)
    out.print(f"review {review}: waiting again", highlight=False)
    if left:
        err.print(f"[yellow]note[/yellow] {escape(left)}", highlight=False)
