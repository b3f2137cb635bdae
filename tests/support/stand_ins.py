"""Stand-in models and data that isolate a unit from the real ones (the e2e tests use the real models)."""

import struct
import zlib

from tracker.faces import Faces


class CountingDetector:
    """Finds no face; records each batch's size; or fails like a GPU out of memory."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[int] = []
        self.fail = fail

    def detect_batch(self, frames, zooms=None, glances=None):
        if self.fail:
            raise MemoryError("out of memory")
        self.batches.append(len(frames))
        return [Faces.empty() for _ in frames]


class Embedder:
    model_id, dim, verify_threshold, tables = "stand-in:0", 128, 0.2, None


class StandInAnalyzer:
    """A face path with a stand-in detector and no real embedder."""

    embedder, verify_threshold = Embedder(), 0.2

    def __init__(self, detector) -> None:
        self.detector = detector


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` grey pixels (its data: one compressed row)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1)))
            + chunk(b"IEND", b""))
