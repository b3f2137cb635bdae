"""Model cards: one JSON file per embedder, the table of embedders: read by the config (the choices), by
``load_embedder`` (the loader), the embedders (template, threshold) and the gallery (tables)."""

import importlib
import re

import pytest

from tracker.config import ModelsConfig, parse_config
from tracker.errors import ConfigError, WeightsError
from tracker.face import align, card
from tracker.face.card import CARDS, card_json, card_names, load_card, measured_tables


def test_every_card_is_an_embedder_the_config_offers_with_a_loader_and_template_that_exist_as_written():
    offered = card_names()
    assert len(offered) == 5 and ModelsConfig().embedder in offered
    for name in offered:
        model = load_card(name)
        assert model.name == name and 0.0 < model.verify_threshold < 4.0
        assert f"`{name}`" in ModelsConfig.model_fields["embedder"].description
        assert ModelsConfig(embedder=name).embedder == name
        module, function = model.loader.split(":")
        assert callable(getattr(importlib.import_module(module), function)), model.loader
        assert model.template in align.TEMPLATES, model.template
        assert (CARDS / f"{name}.json").read_text() == card_json(model)  # what far-table --write would write


def test_an_embedder_without_a_card_is_refused_naming_the_setting_and_the_choices():
    with pytest.raises(ConfigError, match=r"x\.toml: models\.embedder: .*'arcface' is none of the embedders there "
                                          r"are model cards of: dlib-resnet-v1, "):
        parse_config({"models": {"embedder": "arcface"}}, "x.toml")


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
        unsorted = ('{"name": "u", "loader": "m:f", "summary": "", "template": "DLIB_150", "verify_threshold": 0.2, '
                    '"threshold_note": "", '
                    '"tables": {"model_id": "u:1", "measured": "", "impostor": [[0.1, 0.5], [0.01, 0.4]], '
                    '"genuine": [[0.5, 1]]}}')
        (tmp_path / "u.json").write_text(unsorted)
        with pytest.raises(WeightsError, match="tables.impostor: not two rows or more, ascending"):
            load_card("u")
        with pytest.raises(WeightsError, match="missing.json"):
            load_card("missing")
    finally:
        load_card.cache_clear()


def test_a_card_whose_loader_cannot_be_found_is_a_clear_error_naming_its_file(tmp_path, monkeypatch):
    from tracker.face.embedders import base_embedder

    monkeypatch.setattr(card, "CARDS", tmp_path)
    load_card.cache_clear()
    try:
        text = (CARDS / "omz-reid-0095.json").read_text().replace("omz_reid:load_omz_reid", "omz_reid:load_omz")
        (tmp_path / "omz-reid-0095.json").write_text(text)
        with pytest.raises(WeightsError, match=r"omz-reid-0095\.json: loader 'tracker\.face\.embedders\.omz_reid:"
                                               r"load_omz' cannot be found"):
            base_embedder(ModelsConfig(), None)
    finally:
        load_card.cache_clear()


def test_a_small_reference_is_priced_between_the_measured_sizes_and_as_in_lfw_past_them():
    small = load_card("omz-reid-0095").small_faces
    assert small is not None and small.threshold == load_card("omz-reid-0095").verify_threshold
    (_, full), (first, at_first), (second, at_second) = small.rates[:3]
    assert small.rate(first) == at_first and small.rate(10) == at_first  # below the smallest: the smallest's
    assert min(at_first, at_second) <= small.rate((first + second) / 2) <= max(at_first, at_second)
    assert small.rate(small.rates[-1][0] + 1) == full  # past the largest measured: as LFW has them
    assert load_card("dlib-resnet-v1").small_faces is None  # not measured: the refusal names no price


@pytest.mark.parametrize(("impostor", "fault"), [
    ([[0.0, 0.5], [0.5, 1.0]], "a share outside (0, 1]"),  # a rate of 0: no logarithm
    ([[float("nan"), 0.5], [0.5, 1.0]], "a share outside (0, 1]"),
    ([[1e-3, 0.5], [0.1, 1.0]], "no row for half the pairs"),  # no median impostor distance
    ([[1e-3, 0.5]], "not two rows or more"),
])
def test_a_damaged_head_record_is_refused_naming_what_is_wrong(impostor, fault):
    from tracker.head_record import head_tables

    record = {"calibration": {"impostor": impostor, "genuine": [[0.1, 0.2], [0.9, 0.8]], "verify_threshold": 1.0}}
    with pytest.raises(WeightsError, match=re.escape(fault)):
        head_tables(record, "omz-reid-0095+head-0123456789ab:abc")
