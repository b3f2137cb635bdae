"""The live view draws each zone's outline (and name) where its polygon lies, in the frame's own pixels."""

import numpy as np

from pipelines.annotate import draw_zones
from tracker.track.zones import Zones


def test_a_zones_outline_is_drawn_on_its_polygon_and_nowhere_else():
    frame = np.full((200, 400, 3), 100, np.uint8)
    zones = Zones({"porch": [(0.5, 0.25), (1.0, 0.25), (1.0, 1.0), (0.5, 1.0)]})
    drawn = draw_zones(frame, zones.pixels(400, 200))
    blue = np.all(drawn == (60, 120, 255), axis=2)
    assert blue[120, 200] and blue[50, 300]  # its left edge (x 200) and its top edge (y 50)
    assert not blue[:, :195].any() and not blue[:45].any()  # nothing outside the polygon's outline
    assert np.array_equal(frame, np.full((200, 400, 3), 100, np.uint8))  # the frame itself untouched
