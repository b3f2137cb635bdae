"""An OpenVINO IR network (``.xml`` graph + ``.bin`` weights) as a torch module.

The ``.xml`` lists layers and the edges between their ports; each ``Const`` layer names the
element type, shape, offset and size of its data in the ``.bin``. This reader supports the
operations that Open Model Zoo's face-reidentification-retail-0095 uses and refuses any other
with an error that names the layer. Constants become float32 buffers (FP16 weights widened
exactly); a constant scale or shift right after a convolution (batch normalisation, biases) is
folded into the convolution, so it costs no pass over the activations; and the graph runs in
torch, batched, on the CPU or CUDA.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tracker.errors import WeightsError

DTYPES = {"f16": np.float16, "f32": np.float32, "i64": np.int64, "i32": np.int32}
OPERATIONS = {"Parameter", "Const", "Convert", "Convolution", "GroupConvolution", "Add", "Multiply", "PReLU",
              "Sigmoid", "AvgPool", "Result"}


@dataclass(frozen=True)
class Layer:
    id: str
    name: str
    type: str
    data: dict[str, str]
    inputs: tuple[tuple[str, str], ...]  # (from layer, from port) per input port, in port order


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.replace(" ", "").split(",") if v]


def read_layers(xml: Path) -> list[Layer]:
    """The graph's layers in an order where every layer comes after its inputs."""
    try:
        root = ET.parse(xml).getroot()
    except (OSError, ET.ParseError) as error:
        raise WeightsError(f"{xml}: not a readable OpenVINO IR graph ({error})") from None

    def attribute(element: ET.Element, name: str) -> str:
        value = element.get(name)
        if value is None:
            raise WeightsError(f"{xml}: an <{element.tag}> without its {name} attribute")
        return value

    edges: dict[str, dict[int, tuple[str, str]]] = {}
    for edge in root.iter("edge"):
        edges.setdefault(attribute(edge, "to-layer"), {})[int(attribute(edge, "to-port"))] = (
            attribute(edge, "from-layer"), attribute(edge, "from-port"))
    layers = {}
    for node in root.iter("layer"):
        kind, layer_id = attribute(node, "type"), attribute(node, "id")
        if kind not in OPERATIONS:
            raise WeightsError(f"{xml}: layer {layer_id} ({node.get('name')}) is a {kind}, an operation this "
                               f"reader does not support (it supports {', '.join(sorted(OPERATIONS))})")
        data = node.find("data")
        ports = edges.get(layer_id, {})
        layers[layer_id] = Layer(layer_id, attribute(node, "name"), kind,
                                 dict(data.attrib) if data is not None else {},
                                 tuple(ports[p] for p in sorted(ports)))
    ordered, done = [], set()

    def visit(layer_id: str) -> None:
        if layer_id in done:
            return
        for source, _ in layers[layer_id].inputs:
            visit(source)
        done.add(layer_id)
        ordered.append(layers[layer_id])

    for layer_id in layers:
        visit(layer_id)
    return ordered


class IRNetwork(nn.Module):
    """Runs an IR graph of the supported operations; input ``(n, c, h, w)`` float32, output the first Result."""

    def __init__(self, xml: Path, weights: Path) -> None:
        super().__init__()
        try:
            blob = weights.read_bytes()
        except OSError as error:
            raise WeightsError(f"{weights}: cannot read the IR weights ({error.strerror or error})") from None
        self.layers = read_layers(xml)
        self._constants: dict[str, str] = {}  # layer id -> buffer name
        for layer in self.layers:
            if layer.type == "Const":
                self._constant(layer, blob, weights)
            elif layer.type == "Convert" and layer.inputs[0][0] in self._constants:
                self._constants[layer.id] = self._constants[layer.inputs[0][0]]  # folded: buffers are float32
        results = [layer for layer in self.layers if layer.type == "Result"]
        if len(results) != 1:
            raise WeightsError(f"{xml}: expected one Result layer, found {len(results)}")
        for layer in self.layers:
            if layer.type in ("Convolution", "GroupConvolution", "AvgPool"):
                explicit = layer.data.get("auto_pad", "explicit") == "explicit"
                pads = _ints(layer.data.get("pads_begin", "0")) + _ints(layer.data.get("pads_end", "0"))
                if not explicit or (layer.type == "AvgPool" and any(pads)):
                    raise WeightsError(f"{xml}: layer {layer.id} ({layer.name}): {layer.type} with auto_pad "
                                       f"{layer.data.get('auto_pad')} and pads {pads} is not supported")
        self._convs: dict[str, tuple[str, str]] = {}  # convolution -> (weight buffer as F.conv2d takes it, bias)
        for layer in self.layers:
            if layer.type in ("Convolution", "GroupConvolution"):
                weight = getattr(self, self._constants[layer.inputs[1][0]])
                if layer.type == "GroupConvolution":  # (groups, out / groups, in / groups, kh, kw)
                    weight = weight.reshape(-1, *weight.shape[2:])
                self._convs[layer.id] = self._store(layer.id, weight, torch.zeros(weight.shape[0]))
        self._aliases: dict[str, str] = {}  # a folded Multiply / Add -> the convolution that now does its work
        self._fold()

    def _fold(self) -> None:
        consumers: dict[str, int] = {}
        for layer in self.layers:
            for source, _ in layer.inputs:
                consumers[source] = consumers.get(source, 0) + 1
        for layer in self.layers:
            if layer.type not in ("Multiply", "Add") or len(layer.inputs) != 2:
                continue
            const = [source for source, _ in layer.inputs if source in self._constants]
            other = [source for source, _ in layer.inputs if source not in self._constants]
            if len(const) != 1 or len(other) != 1 or consumers.get(other[0]) != 1:
                continue
            conv = self._aliases.get(other[0], other[0])
            if conv not in self._convs:
                continue
            value = getattr(self, self._constants[const[0]])
            weight, bias = (getattr(self, name) for name in self._convs[conv])
            if value.numel() not in (1, weight.shape[0]) or value.dim() > 4:
                continue
            per_channel = value.reshape(-1).expand(weight.shape[0]) if value.numel() == 1 else value.reshape(-1)
            if layer.type == "Multiply":
                weight, bias = weight * per_channel.view(-1, *([1] * (weight.dim() - 1))), bias * per_channel
            else:
                bias = bias + per_channel
            self._store(conv, weight, bias)
            self._aliases[layer.id] = conv

    def _store(self, conv: str, weight: torch.Tensor, bias: torch.Tensor) -> tuple[str, str]:
        names = (f"conv_weight_{conv}", f"conv_bias_{conv}")
        for name, value in zip(names, (weight, bias)):
            # a copy of its own: a traced (frozen) module refuses buffers that share storage
            self.register_buffer(name, value.clone(memory_format=torch.contiguous_format), persistent=False)
        return names

    def _constant(self, layer: Layer, blob: bytes, weights: Path) -> None:
        dtype = DTYPES.get(layer.data.get("element_type", ""))
        offset, size = int(layer.data["offset"]), int(layer.data["size"])
        if dtype is None or offset + size > len(blob):
            raise WeightsError(f"{weights}: layer {layer.id} ({layer.name}) wants {layer.data.get('element_type')} "
                               f"bytes {offset}-{offset + size} of a {len(blob)}-byte file")
        values = np.frombuffer(blob, dtype, size // np.dtype(dtype).itemsize, offset)
        shape = _ints(layer.data.get("shape", ""))
        name = f"const_{layer.id}"
        self.register_buffer(name, torch.from_numpy(values.astype(np.float32).reshape(shape)), persistent=False)
        self._constants[layer.id] = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict[str, torch.Tensor] = {}
        for layer in self.layers:
            if layer.id in self._constants:
                values[layer.id] = getattr(self, self._constants[layer.id])
            elif layer.id in self._aliases:
                values[layer.id] = values[self._aliases[layer.id]]
            elif layer.id in self._convs:
                weight, bias = (getattr(self, name) for name in self._convs[layer.id])
                values[layer.id] = self._convolve(layer, values[layer.inputs[0][0]], weight, bias)
            else:
                values[layer.id] = self._run(layer, x, [values[source] for source, _ in layer.inputs])
                if layer.type == "Result":
                    return values[layer.id]
        raise AssertionError("unreachable: the graph has a Result")

    @staticmethod
    def _convolve(layer: Layer, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        top, left = _ints(layer.data.get("pads_begin", "0, 0"))
        bottom, right = _ints(layer.data.get("pads_end", "0, 0"))
        groups = x.shape[1] // weight.shape[1]
        if (top, left) != (bottom, right):
            x, padding = F.pad(x, (left, right, top, bottom)), (0, 0)
        else:
            padding = (top, left)
        strides, dilations = _ints(layer.data["strides"]), _ints(layer.data["dilations"])
        if x.device.type == "cpu" and x.dtype == torch.float32 and torch.backends.mkldnn.is_available():
            # oneDNN for every convolution: F.conv2d sends most of this graph's (1x1 and depthwise, channels-last)
            # to its slow im2col path, with a layout copy each way; measured 1.6x faster for the whole network.
            return torch.ops.aten.mkldnn_convolution(x, weight, bias, list(padding), strides, dilations, groups)
        return F.conv2d(x, weight.to(x.dtype), bias.to(x.dtype), strides, padding, dilations, groups)

    @staticmethod
    def _run(layer: Layer, x: torch.Tensor, inputs: list[torch.Tensor]) -> torch.Tensor:
        kind, data = layer.type, layer.data
        if kind == "Parameter":
            return x
        if kind in ("Convert", "Result"):
            return inputs[0]
        if kind == "Add":
            return inputs[0] + inputs[1]
        if kind == "Multiply":
            return inputs[0] * inputs[1]
        if kind == "Sigmoid":
            return torch.sigmoid(inputs[0])
        if kind == "PReLU":
            return F.prelu(inputs[0], inputs[1].reshape(-1).to(inputs[0].dtype))
        # AvgPool, the one kind left (convolutions run in forward); no padding (checked when the graph was read)
        return F.avg_pool2d(inputs[0], _ints(data["kernel"]), _ints(data["strides"]),
                            ceil_mode=data.get("rounding_type") == "ceil")
