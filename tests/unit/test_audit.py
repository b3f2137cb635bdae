"""The gallery audit on constructed faces: a face far from its person's others is unlike it, a face within
the threshold of someone else's makes them confusable, a face that alone names strangers is counted, and
removing it lowers the strangers named."""

import numpy as np

from gallery.audit import CONFUSABLE, NAMES_STRANGERS, UNLIKE, audit


def unit(*rows):
    v = np.array(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_each_kind_of_bad_reference_is_flagged_and_what_removing_it_changes():
    vectors = unit([1, 0, 0, 0], [0.95, 0.05, 0, 0], [0.9, 0, 0.1, 0],  # person 1, three alike faces
                   [0, 1, 0, 0], [0, 0.97, 0.03, 0],  # person 2
                   [0, 0, 0, 1])  # filed under person 1: unlike them
    face_ids, owners = np.arange(10, 16), np.array([1, 1, 1, 2, 2, 1])
    strangers = unit([0.02, 0.02, 0.02, 1], [0.3, 0.3, 0.9, 0.1])
    report = audit(face_ids, owners, vectors, None, threshold=0.5, strangers=strangers)
    flags = {f.face_id: f.flags for f in report.faces}
    assert flags[15] == [UNLIKE, NAMES_STRANGERS] and report.faces[5].strangers_named == 1
    assert all(not flags[i] for i in range(10, 15))
    assert report.closest_pair[:2] == (1, 2) and report.strangers == 2 and report.strangers_named == 1
    assert report.strangers_named_without({15}) == 0 and report.strangers_named_without(set()) == 1
    confusable = audit(np.arange(3), np.array([1, 1, 2]), unit([1, 0], [0.8, 0.6], [0.99, 0.14]), None, 0.5)
    assert CONFUSABLE in confusable.faces[2].flags and CONFUSABLE in confusable.faces[0].flags
