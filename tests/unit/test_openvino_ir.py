"""The OpenVINO IR reader: a small graph written here runs as torch would run it, and any operation it does
not support is refused with the layer named."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tracker.errors import WeightsError
from tracker.face.embedders.openvino_ir import IRNetwork

GRAPH = """<?xml version="1.0"?>
<net name="tiny" version="11">
  <layers>
    <layer id="0" name="input" type="Parameter" version="opset1"><data shape="1,2,6,6" element_type="f32"/>
      <output><port id="0"/></output></layer>
    <layer id="1" name="w" type="Const" version="opset1">
      <data element_type="f16" shape="3, 2, 3, 3" offset="0" size="108"/><output><port id="0"/></output></layer>
    <layer id="2" name="w32" type="Convert" version="opset1"><data destination_type="f32"/>
      <input><port id="0"/></input><output><port id="1"/></output></layer>
    <layer id="3" name="conv" type="Convolution" version="opset1">
      <data strides="1, 1" dilations="1, 1" pads_begin="1, 1" pads_end="1, 1" auto_pad="explicit"/>
      <input><port id="0"/><port id="1"/></input><output><port id="2"/></output></layer>
    <layer id="4" name="b" type="Const" version="opset1">
      <data element_type="f32" shape="1, 3, 1, 1" offset="108" size="12"/><output><port id="0"/></output></layer>
    <layer id="5" name="bias" type="Add" version="opset1"><data auto_broadcast="numpy"/>
      <input><port id="0"/><port id="1"/></input><output><port id="2"/></output></layer>
    <layer id="6" name="slope" type="Const" version="opset1">
      <data element_type="f32" shape="3" offset="120" size="12"/><output><port id="0"/></output></layer>
    <layer id="7" name="act" type="KIND" version="opset1">
      <input><port id="0"/><port id="1"/></input><output><port id="2"/></output></layer>
    <layer id="8" name="out" type="Result" version="opset1"><input><port id="0"/></input></layer>
  </layers>
  <edges>
    <edge from-layer="0" from-port="0" to-layer="3" to-port="0"/>
    <edge from-layer="1" from-port="0" to-layer="2" to-port="0"/>
    <edge from-layer="2" from-port="1" to-layer="3" to-port="1"/>
    <edge from-layer="3" from-port="2" to-layer="5" to-port="0"/>
    <edge from-layer="4" from-port="0" to-layer="5" to-port="1"/>
    <edge from-layer="5" from-port="2" to-layer="7" to-port="0"/>
    <edge from-layer="6" from-port="0" to-layer="7" to-port="1"/>
    <edge from-layer="7" from-port="2" to-layer="8" to-port="0"/>
  </edges>
</net>
"""


def write(tmp_path, kind: str):
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(3, 2, 3, 3)).astype(np.float16)
    bias, slope = rng.normal(size=3).astype(np.float32), np.array([0.1, 0.2, 0.3], np.float32)
    (tmp_path / "g.xml").write_text(GRAPH.replace("KIND", kind))
    (tmp_path / "g.bin").write_bytes(weight.tobytes() + bias.tobytes() + slope.tobytes())
    return tmp_path / "g.xml", tmp_path / "g.bin", (weight, bias, slope)


def test_a_small_graph_runs_as_torch_would_with_its_bias_folded_into_the_convolution(tmp_path):
    xml, weights, (weight, bias, slope) = write(tmp_path, "PReLU")
    net = IRNetwork(xml, weights)
    x = torch.randn(4, 2, 6, 6)
    expected = F.prelu(F.conv2d(x, torch.from_numpy(weight.astype(np.float32)), torch.from_numpy(bias), padding=1),
                       torch.from_numpy(slope))
    torch.testing.assert_close(net(x), expected, atol=1e-5, rtol=1e-5)
    assert net._aliases == {"5": "3"}  # the Add is now the convolution's bias


def test_an_operation_the_reader_does_not_support_is_refused_with_the_layer_named(tmp_path):
    xml, weights, _ = write(tmp_path, "Relu")
    with pytest.raises(WeightsError, match=r"g.xml: layer 7 \(act\) is a Relu, an operation this reader does not"):
        IRNetwork(xml, weights)


def test_weights_shorter_than_the_graph_says_are_refused_with_the_file_named(tmp_path):
    xml, weights, _ = write(tmp_path, "PReLU")
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(WeightsError, match=r"g.bin: layer 1 \(w\) wants f16 bytes 0-108 of a 100-byte file"):
        IRNetwork(xml, weights)
