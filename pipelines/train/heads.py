"""A trained head on disk: its weights with what it was trained from and how (the base model, the fold, the
people, the margin, the command), so it can be told apart from another and reproduced."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import torch

from tracker.errors import WeightsError
from tracker.train.head import ResidualHead


def save_head(path: Path, head: ResidualHead, record: dict) -> str:
    """Write ``path`` (the weights) and ``path`` + ``.json`` (``record`` with the head's id); returns the id."""
    buffer = io.BytesIO()
    torch.save({"state": head.state_dict(), "dim_in": head.dim_in, "dim_out": head.dim_out}, buffer)
    data = buffer.getvalue()
    head_id = f"head-{hashlib.sha256(data).hexdigest()[:12]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.with_suffix(path.suffix + ".json").write_text(json.dumps({"id": head_id, **record}, indent=2) + "\n")
    return head_id


def load_head(path: Path) -> ResidualHead:
    try:
        held = torch.load(path, map_location="cpu", weights_only=True)
        head = ResidualHead(held["dim_in"], held["dim_out"])
        head.load_state_dict(held["state"])
    except (OSError, KeyError, RuntimeError) as error:
        raise WeightsError(f"{path}: not a trained head ({error})") from None
    return head.eval()
