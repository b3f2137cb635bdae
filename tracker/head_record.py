"""Trained heads without torch: where ``models.head`` points, its record (``facetrack train`` writes it beside
the weights: the head's card, with its measured distance tables), the model name it gives, and the active model's
tables (``tables_of``) and verification threshold (``verify_threshold_of``). Commands that load no model
(``gallery stats``, answering a review) read them from here."""

from __future__ import annotations

import json
from pathlib import Path

from tracker.config import ModelsConfig
from tracker.errors import WeightsError
from tracker.face.card import Tables, load_card, measured_tables, parse_tables


def head_path(config: ModelsConfig) -> Path:
    """The head file ``models.head`` names: a path, or an id under ``models.cache_dir/heads/``."""
    named = config.head
    if named.endswith(".pt") or "/" in named:
        return Path(named).expanduser()
    return Path(config.cache_dir).expanduser() / "heads" / f"{named}.pt"


def head_record(config: ModelsConfig) -> dict:
    """The record of the head ``models.head`` names; a ``WeightsError`` naming the file at fault."""
    path = head_path(config)
    record_path = path.with_suffix(path.suffix + ".json")
    if not path.is_file():
        raise WeightsError(f"models.head: {path} does not exist; train a head with `facetrack train` (heads are "
                           f"kept under {Path(config.cache_dir).expanduser() / 'heads'})")
    try:
        record = json.loads(record_path.read_text())
        if not isinstance(record["id"], str) or not isinstance(record["calibration"]["verify_threshold"], float):
            raise TypeError("id or calibration.verify_threshold of the wrong type")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise WeightsError(f"models.head: {record_path}: no readable record with an id and a calibration "
                           f"({error}); train the head again") from None
    return record


def model_name(config: ModelsConfig) -> str:
    """The name part of the active model's id: the embedder's, or ``<embedder>+<head id>`` with a head."""
    return f"{config.embedder}+{head_record(config)['id']}" if config.head else config.embedder


def head_tables(record: dict, model_id: str) -> Tables:
    """The distance tables of a head's ``record``, as those of ``model_id`` (the head's, with its weights' hash); a
    ``WeightsError`` when they are unreadable."""
    calibration = record["calibration"]
    try:
        return parse_tables({"model_id": model_id, "measured": calibration.get("on", "facetrack train"),
                             "impostor": calibration["impostor"], "genuine": calibration["genuine"]})
    except (ValueError, KeyError, TypeError) as error:
        raise WeightsError(f"models.head: the record of {model_id} has no readable distance tables ({error}); "
                           "train the head again") from None


def tables_of(config: ModelsConfig, model_id: str) -> Tables | None:
    """The distance tables of ``model_id``, the model ``config`` makes active, without loading it: a trained head's
    record's, or the card's (None: none measured for these weights)."""
    return head_tables(head_record(config), model_id) if config.head else measured_tables(model_id)


def verify_threshold_of(config: ModelsConfig) -> float:
    """The verification threshold of the model ``config`` makes active, without loading it: a trained head's
    record's, or the embedder's card's."""
    return float(head_record(config)["calibration"]["verify_threshold"]) if config.head else \
        load_card(config.embedder).verify_threshold
