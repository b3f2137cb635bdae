"""The bodies the HTTP side accepts, validated strictly (pydantic): a wrong type is refused, never
coerced (``{"name": 5}`` is not "5"), names have a length limit and no control characters, and
metadata is a small JSON object of finite numbers. Each refusal is one line that names the field."""

from __future__ import annotations

import json
from typing import Annotated, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints, TypeAdapter, ValidationError

MAX_NAME = 200
MAX_METADATA_KEYS = 50
MAX_METADATA_CHARS = 10_000

# no control characters (C0, DEL, C1), and something besides spaces (the name is stripped of them)
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME,
                                              pattern=NAME_PATTERN)]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Rename(_Body):
    name: PersonName


class FromTrack(_Body):
    camera: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    track: int


class NameCluster(_Body):
    name: PersonName


class Merge(_Body):
    other: int


class RejectSighting(_Body):
    sighting: int


Body = TypeVar("Body", bound=_Body)


def parse(model: type[Body], raw: bytes) -> Body:
    """``raw`` JSON as ``model``, or 400 with the first problem: ``field: what is wrong``."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise web.HTTPBadRequest(text=_first(error)) from None


_NAME = TypeAdapter(PersonName)


def person_name(text: str) -> str:
    try:
        return _NAME.validate_python(text, strict=True)
    except ValidationError as error:
        raise web.HTTPBadRequest(text=f"name: {error.errors()[0]['msg']}") from None


def metadata(text: str) -> dict:
    """A JSON object of at most ``MAX_METADATA_KEYS`` keys and ``MAX_METADATA_CHARS`` characters, numbers finite."""
    def refuse(constant: str):
        raise ValueError(f"{constant} is not a JSON number")

    try:
        value = json.loads(text, parse_constant=refuse)
    except ValueError as error:
        raise web.HTTPBadRequest(text=f"metadata: not JSON ({error})") from None
    if not isinstance(value, dict):
        raise web.HTTPBadRequest(text="metadata: must be a JSON object")
    if len(value) > MAX_METADATA_KEYS or len(json.dumps(value)) > MAX_METADATA_CHARS:
        raise web.HTTPBadRequest(text=f"metadata: at most {MAX_METADATA_KEYS} keys and {MAX_METADATA_CHARS:,} "
                                      "characters of JSON")
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        raise web.HTTPBadRequest(text="metadata: numbers must be finite") from None
    return value


def _first(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "body"
    return f"{where}: {problem['msg']}"
