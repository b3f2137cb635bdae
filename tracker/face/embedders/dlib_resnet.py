"""dlib's 128-d face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``) in torch.

The network is dlib's ``anet_type`` from ``dnn_face_recognition_ex.cpp``: a 7x7/2 stem,
max-pool, then residual units of two 3x3 convolutions (each followed by a per-channel
affine, the frozen batch norm), grouped 3x32, 4x64, 3x128, 3x256, 1x256 with the first unit
of each later group down-sampling (stride-2 convolution; the shortcut is a 2x2/2 average
pool). Where a shortcut and a branch differ in channels or size, dlib adds them with the
smaller one zero-padded at the end, and so does this module. Global average pool and a
128-output linear layer without bias close it. Input is RGB 150x150, ``(x - mean) / 256``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tracker.config import ModelsConfig
from tracker.errors import WeightsError
from tracker.face.align import model_template
from tracker.face.card import load_card
from tracker.face.embedders.base import Embedder, file_hash
from tracker.face.embedders.dlib_format import Layer, read_network

logger = logging.getLogger(__name__)

# (channels, units, first unit down-samples), input to output.
GROUPS = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))


def layer_sequence() -> list[str]:
    """The network's layers input to output, as dlib serialises them (tags and skips included)."""
    seq = ["input", "con", "affine", "relu", "max_pool"]
    for _channels, units, down in GROUPS:
        for unit in range(units):
            seq += ["tag", "con", "affine", "relu", "con", "affine"]
            seq += ["tag", "skip", "avg_pool", "add_prev", "relu"] if down and unit == 0 else ["add_prev", "relu"]
    return seq + ["avg_pool", "fc"]


def _add_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: element-wise sum, the smaller tensor zero-padded at the end."""
    if a.shape == b.shape:
        return a + b
    c, h, w = (max(x, y) for x, y in zip(a.shape[1:], b.shape[1:]))

    def pad(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return pad(a) + pad(b)


class _Unit(nn.Module):
    def __init__(self, cin: int, cout: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.relu(self.conv1(x)))
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(_add_padded(y, shortcut))


class DlibResNet(nn.Module):
    """Forward maps uint8 RGB chips ``(n, 150, 150, 3)`` to raw 128-d dlib descriptors."""

    mean: torch.Tensor  # a buffer: dlib's mean colour

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, 3, 1, 1))
        self.stem = nn.Conv2d(3, 32, 7, stride=2, padding=0)
        units: list[nn.Module] = []
        cin = 32
        for channels, count, down in GROUPS:
            for i in range(count):
                units.append(_Unit(cin, channels, down and i == 0))
                cin = channels
        self.units = nn.Sequential(*units)
        self.fc = nn.Linear(cin, 128, bias=False)

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        x = (chips.permute(0, 3, 1, 2).to(self.mean.dtype) - self.mean) / 256.0
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
        x = self.units(x)
        return self.fc(x.mean(dim=(2, 3)))

    def convs(self) -> list[nn.Conv2d]:
        units = [unit for unit in self.units if isinstance(unit, _Unit)]
        return [self.stem] + [conv for unit in units for conv in (unit.conv1, unit.conv2)]


def _fold_affine(conv: nn.Conv2d, con: Layer, affine: Layer) -> None:
    """Set ``conv`` to dlib's convolution followed by its per-channel affine, folded into one."""
    f, c, k = con.ints["num_filters"], con.ints["in_channels"], con.ints["nr"]
    if conv.weight.shape != (f, c, k, k) or affine.ints["channels"] != f:
        raise ValueError(f"layer shape {(f, c, k, k)} does not fit {tuple(conv.weight.shape)}")
    n = f * c * k * k
    weight = torch.from_numpy(con.params[:n].reshape(f, c, k, k))
    bias = torch.from_numpy(con.params[n:])
    gamma, beta = torch.from_numpy(affine.params[:f]), torch.from_numpy(affine.params[f:])
    if conv.bias is None:
        raise ValueError("a convolution without a bias cannot take dlib's affine")
    conv.weight.data.copy_(weight * gamma.view(-1, 1, 1, 1))
    conv.bias.data.copy_(bias * gamma + beta)


def state_from_layers(layers: list[Layer]) -> dict[str, torch.Tensor]:
    """Build a ``DlibResNet`` state dict from the layers ``read_network`` returned."""
    net = DlibResNet()
    inp = layers[0]
    mean = [inp.floats["avg_red"], inp.floats["avg_green"], inp.floats["avg_blue"]]
    net.mean.copy_(torch.tensor(mean).view(1, 3, 1, 1))
    cons = [x for x in layers if x.kind == "con"]
    affines = [x for x in layers if x.kind == "affine"]
    convs = net.convs()
    if len(cons) != len(convs) or len(affines) != len(convs):
        raise ValueError(f"expected {len(convs)} convolutions, found {len(cons)}")
    for conv, con, affine in zip(convs, cons, affines):
        _fold_affine(conv, con, affine)
    fc = layers[-1]
    weights = torch.from_numpy(fc.params.reshape(fc.ints["num_inputs"], fc.ints["num_outputs"]))
    net.fc.weight.data.copy_(weights.t())
    return net.state_dict()


NAME = "dlib-resnet-v1"  # its card: tracker/face/cards/dlib-resnet-v1.json
WEIGHTS_FILE = "dlib_face_recognition_resnet_model_v1.dat"


def weights_path() -> Path:
    """dlib's model file as the PyPI package ``face-recognition-models`` installs it."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise WeightsError(f"{NAME}: the package face-recognition-models is not installed (it holds {WEIGHTS_FILE})")
    path = Path(spec.origin).parent / "models" / WEIGHTS_FILE
    if not path.is_file():
        raise WeightsError(f"{NAME}: {path} is missing; reinstall face-recognition-models")
    return path


def load_dlib_resnet(config: ModelsConfig, device: torch.device) -> Embedder:
    """The dlib ResNet, converted from dlib's file on first use and cached in ``config.cache_dir``."""
    source = weights_path()
    digest = file_hash(source)
    cache = Path(config.cache_dir).expanduser() / f"{NAME}-{digest}.pt"
    net = DlibResNet()
    if cache.is_file():
        net.load_state_dict(torch.load(cache, map_location="cpu", weights_only=True))
    else:
        state = state_from_layers(read_network(source.read_bytes(), layer_sequence(), str(source)))
        net.load_state_dict(state)
        _save_atomically(state, cache)
    return Embedder(NAME, net, 128, model_template(NAME), load_card(NAME).verify_threshold, digest, device, config)


def _save_atomically(state: dict[str, torch.Tensor], path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        torch.save(state, partial)
        os.replace(partial, path)
    except OSError as error:  # a read-only cache costs a conversion per start, nothing more
        logger.warning("cannot cache converted weights in %s: %s", path.parent, error)
