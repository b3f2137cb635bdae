"""Sightings of real LFW faces, as the live pipeline records them (``BestFaces``)."""

import numpy as np

from gallery.store import GalleryStore
from gallery.unknowns import Unknowns
from tests.support.data import lfw_image
from tracker.face.align import STORE_224, align, landmarks_on_crop
from tracker.images import read_image
from tracker.track.sighting import Sighting, SightingFace


def sighting_face(analyzer, person: str, n: int) -> SightingFace:
    """The largest face of ``person``'s ``n``-th LFW photograph."""
    image = read_image(lfw_image(person, n))
    a = analyzer.analyze([image])[0]
    i = int(np.argmax(a.quality.size))
    quality = {"size": float(a.quality.size[i]), "sharpness": float(a.quality.sharpness[i]),
               "frontal": float(a.quality.frontal[i])}
    marks = a.faces.landmarks[i]
    return SightingFace(align(image, marks, STORE_224), landmarks_on_crop(marks, STORE_224), quality, a.embeddings[i],
                        1000.0 + n, 1.0)


def ask(analyzer, store: GalleryStore, person: str, candidate: str, photos=(5, 6), track: int = 7) -> int:
    """A track of ``person``'s faces that ended asking whether it is ``candidate`` (evidence 5.2, 3.5 short of the
    name), its sighting written as the sightings writer writes it: the review's id."""
    faces = [sighting_face(analyzer, person, n) for n in photos]
    unknowns = Unknowns(store, analyzer.embedder.model_id, 0.8 * analyzer.verify_threshold)
    unknowns.add(Sighting("door", track, 1000.0, 1004.0, analyzer.embedder.model_id, faces,
                          review=(store.identity(candidate).id, 5.2, 3.5)))
    return store.query("SELECT MAX(id) FROM reviews")[0][0]
