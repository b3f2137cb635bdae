"""A trained head on disk: its weights with what it was trained from and how (the base model, the fold, the
people, the margin, the command), so it can be told apart from another and reproduced."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import torch

from tracker.train.head import ResidualHead


def heads_dir(cache_dir: Path) -> Path:
    return Path(cache_dir).expanduser() / "heads"


def save_head(path: Path | None, cache_dir: Path, head: ResidualHead, record: dict) -> tuple[str, Path]:
    """Write the weights to ``path`` (default: ``heads_dir(cache_dir)/<id>.pt``) and ``record`` with the head's
    id beside them (``.json``); returns (the id, the weights' path)."""
    buffer = io.BytesIO()
    torch.save({"state": head.state_dict(), "dim_in": head.dim_in, "dim_out": head.dim_out}, buffer)
    data = buffer.getvalue()
    head_id = f"head-{hashlib.sha256(data).hexdigest()[:12]}"
    path = path or heads_dir(cache_dir) / f"{head_id}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.with_suffix(path.suffix + ".json").write_text(json.dumps({"id": head_id, **record}, indent=2) + "\n")
    return head_id, path
