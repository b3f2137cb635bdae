"""Rendezvous hashing: every worker computes the same owner; a worker joining or leaving moves only the
cameras it gains or held."""

from pipelines.live.workers import owner

CAMERAS = [f"cam{i}" for i in range(300)]


def assignment(workers):
    return {c: owner(c, workers) for c in CAMERAS}


def test_every_worker_computes_the_same_owner_whatever_order_it_lists_the_workers_in():
    assert assignment(["a", "b", "c"]) == assignment(["c", "a", "b"])
    assert owner("cam1", []) is None


def test_a_leaving_worker_moves_only_its_own_cameras_and_they_spread_over_the_rest():
    before, after = assignment(["a", "b", "c"]), assignment(["a", "b"])
    moved = {c for c in CAMERAS if before[c] != after[c]}
    assert moved == {c for c in CAMERAS if before[c] == "c"}
    assert {after[c] for c in moved} == {"a", "b"}


def test_a_joining_worker_takes_a_fair_share_from_every_other_and_nothing_else_moves():
    before, after = assignment(["a", "b", "c"]), assignment(["a", "b", "c", "d"])
    moved = [c for c in CAMERAS if before[c] != after[c]]
    assert all(after[c] == "d" for c in moved)
    assert 50 <= len(moved) <= 100  # about a quarter of 300
    assert {before[c] for c in moved} == {"a", "b", "c"}
