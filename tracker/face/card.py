"""Model cards: what facetrack knows of each embedder, one JSON file per model in ``tracker/face/cards/``.

The cards are the table of embedders: ``models.embedder`` may name any of them (``card_names``), and
``load_embedder`` calls the function the card names (``loader``). A card names the model, the function that
loads it, a few words on it for the settings' description, its crop template, its verification threshold (and
where that number comes from), and the distance tables measured on all of LFW for one model id (its weights):
the share of different-person pairs within each distance (``impostor``, which ``gallery/threshold.py`` turns
into a gallery's threshold) and of same-person pairs (``genuine``, the evidence of ``gallery/evidence.py``): the
``Tables`` an embedder carries (``Embedder.tables``) and hands to the gallery,
and what a small reference costs (``small_faces``, quoted by the enrolment refusal; ``facetrack eval
small-faces --write``). ``facetrack eval far-table --write`` measures and writes the tables; a trained head's
record, which ``facetrack train`` writes beside its weights, holds the same tables (``head_record.head_tables``).
Adding an embedder: its module and its card (and a new template into ``align.TEMPLATES``, if it needs one).
Torch- and OpenCV-free: the config and the gallery commands read cards without a model.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tracker.errors import WeightsError

CARDS = Path(__file__).resolve().parent / "cards"
Table = tuple[tuple[float, float], ...]  # (rate or share, distance), ascending


@dataclass(frozen=True)
class Tables:
    """Distances measured for one model id: ``impostor`` (rate, distance), ``genuine`` (share, distance)."""

    model_id: str
    measured: str  # what they were measured on, and the command
    impostor: Table
    genuine: Table

    def genuine_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """The same-person table as a cumulative curve, (distances, shares): from (0, 0) through each row to a
        share of 1 one step past the last distance."""
        distances = [d for _, d in self.genuine]
        return (np.array([0.0] + distances + [distances[-1] + (distances[-1] - distances[-2])]),
                np.array([0.0] + [s for s, _ in self.genuine] + [1.0]))


@dataclass(frozen=True)
class SmallFaces:
    """What a small face costs: per face size (px; 0: as in LFW), the share of strangers' faces within
    ``threshold`` (the model's verification threshold) of a reference that size (``facetrack eval small-faces``)."""

    measured: str
    threshold: float
    rates: tuple[tuple[int, float], ...]  # (size, share), size 0 first, then ascending

    def rate(self, size: float) -> float:
        """The share at a face of ``size`` px, read between the measured sizes (past the largest: as in LFW)."""
        sizes = [s for s, _ in self.rates[1:]]
        shares = [r for _, r in self.rates[1:]]
        return self.rates[0][1] if size > sizes[-1] else float(np.interp(size, sizes, shares))


@dataclass(frozen=True)
class ModelCard:
    name: str
    loader: str  # "module:function": the function (config, device) -> Embedder that loads it
    summary: str  # a few words on it for ``models.embedder``'s description ("": none)
    template: str  # the crop template's name, one of ``tracker/face/align.py`` ``TEMPLATES``
    verify_threshold: float  # squared L2 on unit vectors: two faces within it are one person
    threshold_note: str  # where the threshold comes from
    tables: Tables | None = None  # None: not measured (the threshold alone then decides)
    small_faces: SmallFaces | None = None  # None: not measured


def card_names() -> list[str]:
    """The embedders there are cards of: the choices of ``models.embedder``."""
    return sorted(path.stem for path in CARDS.glob("*.json"))


def card_path(name: str) -> Path:
    return CARDS / f"{name}.json"


@functools.cache
def load_card(name: str) -> ModelCard:
    """The card of the embedder ``name``; a ``WeightsError`` naming the file when it is missing or unreadable."""
    path = card_path(name)
    try:
        data = json.loads(path.read_text())
        tables = data["tables"]
        small = data.get("small_faces")
        return ModelCard(data["name"], data["loader"], data["summary"], data["template"],
                         float(data["verify_threshold"]), data["threshold_note"],
                         parse_tables(tables) if tables is not None else None, _small(small) if small else None)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise WeightsError(f"{path}: no readable model card for {name} ({error}); reinstall facetrack") from None


def parse_tables(data: dict) -> Tables:
    """Tables from their JSON (a card's ``tables``, a trained head's record); a ``ValueError`` saying what is wrong."""
    impostor, genuine = (tuple((float(r), float(d)) for r, d in data[kind]) for kind in ("impostor", "genuine"))
    for kind, table in (("impostor", impostor), ("genuine", genuine)):
        if len(table) < 2 or any(b[0] <= a[0] or b[1] < a[1] for a, b in zip(table, table[1:])):
            raise ValueError(f"tables.{kind}: not two rows or more, ascending")
        if not all(0.0 < r <= 1.0 and 0.0 <= d < 4.0 for r, d in table):  # NaN fails both
            raise ValueError(f"tables.{kind}: a share outside (0, 1] or a distance outside [0, 4)")
    if impostor[-1][0] < 0.5:
        raise ValueError("tables.impostor: no row for half the pairs or more (the median impostor distance)")
    return Tables(str(data["model_id"]), str(data["measured"]), impostor, genuine)


def _small(data: dict) -> SmallFaces:
    rates = tuple((int(s), float(r)) for s, r in data["rates"])
    if len(rates) < 3 or rates[0][0] != 0 or any(b[0] <= a[0] for a, b in zip(rates[1:], rates[2:])):
        raise ValueError("small_faces.rates: size 0 first, then two sizes or more, ascending")
    return SmallFaces(str(data["measured"]), float(data["threshold"]), rates)


def measured_tables(model_id: str) -> Tables | None:
    """The tables measured for exactly ``model_id`` (name and weights), from its card; None: none shipped."""
    card = shipped_card(model_id.split(":")[0])
    tables = card.tables if card is not None else None
    return tables if tables is not None and tables.model_id == model_id else None


@functools.cache
def shipped_card(name: str) -> ModelCard | None:
    """The card of ``name`` when the package has one (None: a trained head's name, say), looked for once: the
    distance lookups of every curve point come here."""
    return load_card(name) if card_path(name).is_file() else None


def card_json(card: ModelCard) -> str:
    """The card as its file holds it: a table row per line."""
    head = {"name": card.name, "template": card.template, "loader": card.loader, "summary": card.summary,
            "verify_threshold": card.verify_threshold,
            "threshold_note": card.threshold_note}
    lines = ["{"] + [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    if card.small_faces is not None:
        small = card.small_faces
        rows = ", ".join(f"[{s}, {r!r}]" for s, r in small.rates)
        lines += ['  "small_faces": {', f'    "measured": {json.dumps(small.measured)},',
                  f'    "threshold": {small.threshold!r},', f'    "rates": [{rows}]', "  },"]
    if card.tables is None:
        return "\n".join(lines + ['  "tables": null', "}"]) + "\n"
    t = card.tables
    lines += ['  "tables": {', f'    "model_id": {json.dumps(t.model_id)},',
              f'    "measured": {json.dumps(t.measured)},']
    for kind, table in (("impostor", t.impostor), ("genuine", t.genuine)):
        rows = ",\n".join(f"      [{r!r}, {d!r}]" for r, d in table)
        lines += [f'    "{kind}": [', rows, "    ]" + ("," if kind == "impostor" else "")]
    return "\n".join(lines + ["  }", "}"]) + "\n"
