"""Trained heads without torch: where ``models.head`` points, its record (``facetrack train`` writes it beside
the weights), the model name it gives, and the measured distance tables of the heads known in this process,
beside the shipped models' in ``gallery.far_tables``. Commands that load no model (``gallery stats``) read
a head's name and calibration from here."""

from __future__ import annotations

import json
from pathlib import Path

from tracker.config import ModelsConfig
from tracker.errors import WeightsError

HEAD_TABLES: dict[str, dict] = {}  # model id -> {"impostor": [(rate, d)], "genuine": [(share, d)]}


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


def register(model_id: str, record: dict) -> None:
    """Make a head's measured tables those of ``model_id``."""
    calibration = record["calibration"]
    HEAD_TABLES[model_id] = {kind: tuple(tuple(row) for row in calibration[kind]) for kind in ("impostor", "genuine")}
