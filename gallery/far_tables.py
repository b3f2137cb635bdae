"""Per model id: the share of different-person face pairs (rate) within each distance, measured on
all of LFW through our own pipeline with the default config (``models.flip = true``):

    facetrack eval far-table --root ../shared/data/lfw

Each entry is ``(rate, distance)``, ascending. ``gallery/threshold.py`` reads it. The smallest
rates rest on a handful of pairs (LFW holds a few near-duplicate photographs filed under two
names), so they matter only for galleries of many thousands of faces.
"""

IMPOSTOR_QUANTILES: dict[str, tuple[tuple[float, float], ...]] = {
    # 13231 LFW images, 87,280,810 impostor pairs
    "dlib-resnet-v1:55533b28a958": (
        (1e-08, 0.00294),
        (2e-08, 0.00456),
        (5e-08, 0.01381),
        (1e-07, 0.04154),
        (2e-07, 0.05716),
        (5e-07, 0.06645),
        (1e-06, 0.07207),
        (2e-06, 0.07682),
        (5e-06, 0.08377),
        (1e-05, 0.09013),
        (2e-05, 0.09645),
        (5e-05, 0.10554),
        (1e-04, 0.11318),
        (2e-04, 0.12138),
        (5e-04, 0.13303),
        (1e-03, 0.14226),
        (2e-03, 0.15223),
        (5e-03, 0.16662),
        (1e-02, 0.17890),
        (2e-02, 0.19272),
        (5e-02, 0.21459),
        (1e-01, 0.23542),
        (2e-01, 0.26267),
        (5e-01, 0.32047),
    ),
}
