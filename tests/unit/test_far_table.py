"""The impostor quantile table behind match.far, for a model whose distances lie far above 1 too."""

import numpy as np

from pipelines.eval.far_table import impostor_quantiles


def test_the_table_gives_the_distance_below_which_each_share_of_impostor_pairs_lies():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(1500, 8)).astype(np.float32)  # random directions: impostor distances about 2
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    people = np.arange(1500) // 3
    table, pairs = impostor_quantiles(vectors, people, rates=(1e-3, 0.1, 0.5))
    d = ((vectors[:, None] - vectors[None]) ** 2).sum(-1)
    impostor = np.triu(people[:, None] != people[None], 1)
    assert pairs == int(impostor.sum())
    expected = np.sort(d[impostor])
    for rate, distance in table:
        assert abs(distance - expected[int(np.ceil(rate * pairs)) - 1]) < 1e-4
    assert dict(table)[0.5] > 1.5  # a scale the old fixed cap (1.0) could not hold
