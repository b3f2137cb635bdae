"""Model cards: one JSON file per embedder, read by the embedders (threshold) and the gallery (tables)."""

import typing

import pytest

from tracker.config import ModelsConfig
from tracker.errors import WeightsError
from tracker.face import align, card
from tracker.face.card import CARDS, card_json, load_card, measured_tables


def test_every_embedder_the_config_offers_has_a_card_whose_template_exists_and_whose_file_is_as_written():
    offered = typing.get_args(ModelsConfig.model_fields["embedder"].annotation)
    assert sorted(p.stem for p in CARDS.glob("*.json")) == sorted(offered)
    for name in offered:
        model = load_card(name)
        assert model.name == name and 0.0 < model.verify_threshold < 4.0
        assert model.template in align.TEMPLATES, model.template
        assert (CARDS / f"{name}.json").read_text() == card_json(model)  # what far-table --write would write


def test_the_tables_belong_to_the_weights_they_were_measured_with():
    dlib = load_card("dlib-resnet-v1").tables
    assert dlib is not None and measured_tables(dlib.model_id) == dlib
    assert measured_tables("dlib-resnet-v1:000000000000") is None  # other weights: not these distances
    assert measured_tables("facenet-vggface2:abc") is None and measured_tables("no-such-model:abc") is None
    rates = [r for r, _ in dlib.impostor]
    assert rates == sorted(rates) and rates[0] == 1e-08 and dlib.genuine[-1][0] == 0.999


def test_a_card_that_cannot_be_read_is_a_clear_error_naming_its_file(tmp_path, monkeypatch):
    monkeypatch.setattr(card, "CARDS", tmp_path)
    load_card.cache_clear()
    try:
        (tmp_path / "broken.json").write_text('{"name": "broken", "template": "DLIB_150"}')
        with pytest.raises(WeightsError, match=r"broken\.json: no readable model card for broken \('tables'\)"):
            load_card("broken")
        unsorted = ('{"name": "u", "template": "DLIB_150", "verify_threshold": 0.2, "threshold_note": "", '
                    '"tables": {"model_id": "u:1", "measured": "", "impostor": [[0.1, 0.5], [0.01, 0.4]], '
                    '"genuine": [[0.5, 1]]}}')
        (tmp_path / "u.json").write_text(unsorted)
        with pytest.raises(WeightsError, match="tables.impostor: not two rows or more, ascending"):
            load_card("u")
        with pytest.raises(WeightsError, match="missing.json"):
            load_card("missing")
    finally:
        load_card.cache_clear()
