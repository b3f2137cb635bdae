import pytest

from tracker.errors import WeightsError
from tracker.face.embedders.dlib_format import _Stream, read_network
from tracker.face.embedders.dlib_resnet import layer_sequence


@pytest.mark.parametrize(
    "raw, value",
    [(b"\x01\x00", 0), (b"\x01\x07", 7), (b"\x02\x80\x12", 0x1280), (b"\x81\x11", -17), (b"\x03\x00\x00\x01", 65536)],
)
def test_dlib_integers(raw, value):
    assert _Stream(raw, "t").integer() == value


def test_dlib_floats_are_mantissa_and_exponent():
    # 16 * 2**-4 == 1.0, as dlib writes a learning-rate multiplier of one
    assert _Stream(b"\x01\x10\x81\x04", "t").real() == 1.0


@pytest.mark.parametrize("data", [b"", b"\x01\x01\x01\x05hello", b"not a dlib file at all"])
def test_foreign_files_are_refused_with_the_file_named(data):
    with pytest.raises(WeightsError, match="weights.dat: not a dlib network"):
        read_network(data, layer_sequence(), "weights.dat")
