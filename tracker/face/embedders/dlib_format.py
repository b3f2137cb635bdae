"""Reader for dlib's serialisation format, enough to load a trained DNN's layers.

dlib writes integers as a length byte (low nibble: byte count, 0x80: negative) and
little-endian bytes; floats as an integer mantissa and exponent; strings as a length and
bytes; tensors (version 2) as four dimensions and raw little-endian float32. A network is
written outermost first: a loss layer writes its details, then its sub-network; an
``add_layer`` writes its sub-network before its own details; tag and skip layers write
only a version before their sub-network. The caller passes the network's layer sequence
(input to output) so the reader can walk that nesting and check every layer it meets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tracker.errors import WeightsError


@dataclass
class Layer:
    """One layer's details as read from the file."""

    kind: str  # con, affine, relu, max_pool, avg_pool, add_prev, fc, input
    params: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    ints: dict[str, int] = field(default_factory=dict)
    floats: dict[str, float] = field(default_factory=dict)


class _Stream:
    def __init__(self, data: bytes, source: str) -> None:
        self.data = data
        self.pos = 0
        self.source = source

    def fail(self, what: str) -> WeightsError:
        return WeightsError(f"{self.source}: not a dlib network this reader knows ({what} at byte {self.pos})")

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("unexpected end of file")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def integer(self) -> int:
        head = self.byte()
        size, negative = head & 0x0F, head & 0x80
        if size > 8:
            raise self.fail(f"integer of {size} bytes")
        raw = self.data[self.pos : self.pos + size]
        self.pos += size
        value = int.from_bytes(raw, "little")
        return -value if negative else value

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        return float(mantissa) * 2.0**exponent

    def string(self) -> str:
        n = self.integer()
        raw = self.data[self.pos : self.pos + n]
        self.pos += n
        return raw.decode("latin-1")

    def char(self) -> str:
        return chr(self.byte())

    def tensor(self) -> np.ndarray:
        version = self.integer()
        if version != 2:
            raise self.fail(f"tensor version {version}")
        n, k, nr, nc = (self.integer() for _ in range(4))
        count = n * k * nr * nc
        end = self.pos + 4 * count
        if end > len(self.data):
            raise self.fail("truncated tensor")
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos)
        self.pos = end
        return values.astype(np.float32).reshape(n, k, nr, nc) if count else values.astype(np.float32)

    def alias_tensor(self) -> tuple[int, int, int, int]:
        if self.integer() != 1:
            raise self.fail("alias tensor version")
        n, k, nr, nc = (self.integer() for _ in range(4))
        return n, k, nr, nc


def _read_details(s: _Stream, expected: str) -> Layer:
    tag = s.string()
    readers = {
        "con_4": _read_con,
        "affine_": _read_affine,
        "relu_": lambda s: Layer("relu"),
        "add_prev_": lambda s: Layer("add_prev"),
        "max_pool_2": lambda s: _read_pool(s, "max_pool"),
        "avg_pool_2": lambda s: _read_pool(s, "avg_pool"),
        "fc_2": _read_fc,
        "input_rgb_image_sized": _read_input,
    }
    if tag not in readers:
        raise s.fail(f"unknown layer '{tag}'")
    layer = readers[tag](s)
    if layer.kind != expected:
        raise s.fail(f"found layer '{layer.kind}' where '{expected}' belongs")
    return layer


def _read_con(s: _Stream) -> Layer:
    params = s.tensor().reshape(-1)
    names = ("num_filters", "nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x")
    ints = {name: s.integer() for name in names}
    filters, biases = s.alias_tensor(), s.alias_tensor()
    for _ in range(4):  # learning-rate and weight-decay multipliers
        s.real()
    ints["in_channels"] = filters[1]
    if filters[0] != ints["num_filters"] or biases[1] != ints["num_filters"]:
        raise s.fail("convolution shapes disagree")
    return Layer("con", params, ints)


def _read_affine(s: _Stream) -> Layer:
    params = s.tensor().reshape(-1)
    gamma, _beta = s.alias_tensor(), s.alias_tensor()
    mode = s.integer()
    return Layer("affine", params, {"channels": gamma[1] * gamma[2] * gamma[3], "mode": mode})


def _read_pool(s: _Stream, kind: str) -> Layer:
    names = ("nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x")
    return Layer(kind, ints={name: s.integer() for name in names})


def _read_fc(s: _Stream) -> Layer:
    num_outputs, num_inputs = s.integer(), s.integer()
    params = s.tensor().reshape(-1)
    s.alias_tensor()  # weights: (num_inputs, num_outputs)
    s.alias_tensor()  # biases: empty when there are none
    bias_mode = s.integer()
    for _ in range(4):
        s.real()
    return Layer("fc", params, {"num_outputs": num_outputs, "num_inputs": num_inputs, "bias_mode": bias_mode})


def _read_input(s: _Stream) -> Layer:
    floats = {"avg_red": s.real(), "avg_green": s.real(), "avg_blue": s.real()}
    return Layer("input", ints={"nr": s.integer(), "nc": s.integer()}, floats=floats)


def _read_layer_tail(s: _Stream) -> None:
    for _ in range(3):  # setup called, gradient stale, output disabled
        if s.char() not in "01":
            raise s.fail("layer flags")
    for _ in range(3):  # x_grad, cached_output, params_grad
        s.tensor()


def read_network(data: bytes, sequence: list[str], source: str) -> list[Layer]:
    """Read a serialised ``loss_metric`` network whose layers, input to output, are ``sequence``.

    ``sequence`` names each layer kind; ``tag`` and ``skip`` mark dlib's tag and skip layers.
    Returns the layers (tags and skips left out) in input-to-output order.
    """
    s = _Stream(data, source)
    if s.integer() != 1 or s.string() != "loss_metric_2":
        raise s.fail("no loss_metric layer")
    s.real(), s.real()  # margin and distance threshold, used only in training
    outer_first = list(reversed(sequence))
    if outer_first[-1] != "input":
        raise ValueError("sequence must start with the input layer")
    stack: list[str] = []
    for kind in outer_first[:-2]:
        s.integer()  # the wrapper's version
        if kind not in ("tag", "skip"):
            stack.append(kind)
    if s.integer() != 3:
        raise s.fail("input layer wrapper version")
    layers = [_read_details(s, "input"), _read_details(s, outer_first[-2])]
    _read_layer_tail(s)
    s.integer()  # sample expansion factor, kept by the wrapper next to the input layer
    for kind in reversed(stack):
        layers.append(_read_details(s, kind))
        _read_layer_tail(s)
    if s.pos != len(data):
        raise s.fail("trailing bytes")
    return layers
