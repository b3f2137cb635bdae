"""The benchmark's recall: a consensus reference no single detector defines."""

import numpy as np

from pipelines.eval.bench import consensus, recall, summarise

A = [0, 0, 50, 50]
B = [100, 100, 150, 150]
C = [300, 0, 340, 40]


def test_a_face_is_in_the_reference_when_two_methods_found_it():
    ours = [[A, B], [A]]
    peer = [[A], [A, C]]
    other = [[B], []]
    reference = consensus([ours, peer, other])
    assert [len(r) for r in reference] == [2, 1]  # A and B (two votes each); then A only (C had one vote)
    assert np.allclose(reference[1], [A])


def test_recall_counts_the_reference_faces_each_method_reported_on_frames_it_analysed():
    reference = consensus([[[A, B], [A]], [[A, B], [A]]])
    assert recall([[A, B], [A]], reference) == 1.0
    assert recall([[A], []], reference) == 1 / 3
    assert recall([[A, B], None], reference) == 1.0  # the second frame was not analysed: not counted
    assert recall([[[2, 2, 52, 52]], None], reference) == 0.5  # a slightly shifted box still matches


def test_medians_over_runs():
    runs = [{"fps": 1.0, "boxes": [[A]]}, {"fps": 3.0, "boxes": []}, {"fps": 2.0, "boxes": []}]
    assert summarise(runs) == {"fps": 2.0, "runs": 3, "boxes": [[A]]}
