"""Open Model Zoo's face-reidentification-retail-0095 (Intel, Apache-2.0): a MobileFaceNet-like
network, 256-d, run in torch from its OpenVINO IR files, which ship inside the package.

Input: a 128x128 crop aligned onto the model card's five reference points, BGR, 0-255 (the
graph scales it itself). Output: 256 values, L2-normalised by ``Embedder``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from tracker.config import ModelsConfig
from tracker.face.align import model_template
from tracker.face.card import load_card
from tracker.face.embedders.base import Embedder, file_hash
from tracker.face.embedders.openvino_ir import IRNetwork

NAME = "omz-reid-0095"  # its card: tracker/face/cards/omz-reid-0095.json
FOLDER = Path(__file__).resolve().parent.parent / "models" / NAME
XML, BIN = FOLDER / "face-reidentification-retail-0095.xml", FOLDER / "face-reidentification-retail-0095.bin"
CPU_BATCH = 4


class _BgrInput(nn.Module):
    """uint8 RGB ``(n, h, w, 3)`` crops in, the IR network's BGR float ``(n, 3, h, w)`` input, 256-d out."""

    def __init__(self, net: IRNetwork) -> None:
        super().__init__()
        self.net = net

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        x = crops.permute(0, 3, 1, 2).flip(1).float()  # channels-last in memory: twice as fast on a CPU
        return self.net(x.contiguous(memory_format=torch.channels_last)).flatten(1)


def load_omz_reid(config: ModelsConfig, device: torch.device) -> Embedder:
    # No flip averaging by default: on LFW it scored 99.53% with it and 99.50% without (VAL 98.8% and 99.1%),
    # for twice the work. On this 2-core CPU (frozen, two threads) passes of 4 crops embedded 330-370 faces a
    # second, of 8 or more 255-280: the activations of larger batches fall out of the cache. At most 4.
    return Embedder(NAME, _BgrInput(IRNetwork(XML, BIN)), 256, model_template(NAME), load_card(NAME).verify_threshold,
                    file_hash(BIN), device, config, flips=False, cpu_batch=CPU_BATCH)
