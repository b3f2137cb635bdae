"""Scoring tracks and names against ground truth: IDF1, switches, wrong names, absent names, coverage."""

import math

import pytest

from pipelines.eval.video_metrics import SeenFace, TruthFace, match_frame, score

LEFT, RIGHT = (100.0, 100.0, 200.0, 200.0), (400.0, 100.0, 500.0, 200.0)
ANN, BO, STRANGER = "Ann", "Bo", "Stranger"


def truth(*faces: tuple[str, bool, tuple]) -> list[TruthFace]:
    return [TruthFace(p, e, b) for p, e, b in faces]


def seen(*faces: tuple[int, str | None, tuple]) -> list[SeenFace]:
    return [SeenFace(t, n, b) for t, n, b in faces]


def run(frames: list[tuple[list[TruthFace], list[SeenFace]]]):
    """Frames 0.2 s apart (5 analysed frames per second)."""
    return score({n: t for n, (t, _) in enumerate(frames)}, {n: s for n, (_, s) in enumerate(frames)},
                 {n: n * 0.2 for n in range(len(frames))}, 0.2)


def test_a_perfect_run_scores_perfectly():
    frames = [(truth((ANN, True, LEFT), (STRANGER, False, RIGHT)), seen((1, ANN, LEFT), (2, None, RIGHT)))] * 5
    r = run(frames)
    assert (r.idf1, r.id_switches, r.wrong_name_seconds, r.absent_named_seconds, r.unknown_named_seconds) == \
        (1.0, 0, 0.0, 0.0, 0.0)
    assert r.named_coverage == 1.0 and r.first_name_seconds == {ANN: 0.0}


def test_a_name_carried_across_a_cut_onto_someone_else_is_wrong_and_absent():
    before = [(truth((ANN, True, LEFT)), seen((1, ANN, LEFT)))] * 3
    after = [(truth((BO, True, LEFT)), seen((1, ANN, LEFT)))] * 2  # the same track, now on Bo's face
    r = run(before + after)
    assert r.wrong_name_seconds == pytest.approx(0.4) and r.absent_named_seconds == pytest.approx(0.4)
    assert r.idf1 == pytest.approx(2 * 3 / 10)  # one track for two people: it counts for Ann only
    assert r.first_name_seconds == {ANN: 0.0, BO: None} and r.named_coverage == pytest.approx(3 / 5)


def test_a_stranger_named_counts_as_unknown_named():
    r = run([(truth((STRANGER, False, LEFT), (ANN, True, RIGHT)), seen((1, ANN, LEFT), (2, ANN, RIGHT)))])
    assert r.unknown_named_seconds == pytest.approx(0.2)
    assert r.absent_named_seconds == 0.0  # Ann is in view: not absent, though her name is on a stranger too


def test_a_new_track_for_the_same_person_is_an_id_switch():
    frames = [(truth((ANN, True, LEFT)), seen((1, None, LEFT)))] * 2 + [(truth((ANN, True, LEFT)),
                                                                         seen((2, ANN, LEFT)))] * 2
    r = run(frames)
    assert r.id_switches == 1 and r.idf1 == pytest.approx(0.5)
    assert r.first_name_seconds == {ANN: pytest.approx(0.4)} and r.named_coverage == pytest.approx(0.5)


def test_faces_match_by_overlap_only():
    assert match_frame(truth((ANN, True, LEFT)), seen((1, None, RIGHT))) == []
    assert sorted(match_frame(truth((ANN, True, LEFT), (BO, True, RIGHT)),
                              seen((1, None, RIGHT), (2, None, LEFT)))) == [(0, 1), (1, 0)]
    r = run([(truth((ANN, True, LEFT)), seen((1, BO, RIGHT)))])  # a name on nobody, Bo not in view
    assert r.absent_named_seconds == pytest.approx(0.2) and math.isclose(r.named_coverage, 0.0)
