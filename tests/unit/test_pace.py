"""Pacing each client: a second's worth of requests at once, then one per interval, refused past the wait."""

from pipelines.web.pace import MAX_WAIT, Pace


def test_a_burst_goes_at_once_then_requests_wait_their_turn_then_are_refused():
    pace = Pace(rate=10.0)
    waits = [pace.wait("10.0.0.1", now=100.0) for _ in range(40)]
    assert waits[:10] == [0.0] * 10  # one second's worth at once
    assert [round(w, 3) for w in waits[10:13]] == [0.1, 0.2, 0.3]  # then 10 a second
    assert max(w for w in waits if w is not None) <= MAX_WAIT
    assert waits[-1] is None and waits.count(None) == 40 - 10 - int(MAX_WAIT * 10)


def test_each_client_has_its_own_budget_and_it_comes_back_with_time():
    pace = Pace(rate=10.0)
    for _ in range(40):
        pace.wait("10.0.0.1", now=100.0)
    assert pace.wait("10.0.0.2", now=100.0) == 0.0  # another address is not held up by the first
    assert pace.wait("10.0.0.1", now=100.0) is None
    assert pace.wait("10.0.0.1", now=110.0) == 0.0  # ten quiet seconds later: a burst again


def test_under_one_request_a_second_the_first_goes_at_once():
    pace = Pace(rate=0.5)
    # it waited a second before: a rate under 1 made the one-second burst negative
    assert [pace.wait("10.0.0.1", now=100.0) for _ in range(3)] == [0.0, 2.0, None]
