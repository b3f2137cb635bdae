"""The bodies the HTTP side accepts, validated strictly (pydantic): a wrong type is refused, never
coerced (``{"name": 5}`` is not "5"); names and metadata pass the gallery's own rules
(``gallery.validate``: no control or invisible characters, a small JSON object of finite numbers).
Each refusal is one line that names the field."""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from aiohttp import web
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from gallery import validate
from gallery.validate import MAX_NAME, NAME_PATTERN

PERSON_NAME_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": NAME_PATTERN}
PersonName = Annotated[str, StringConstraints(max_length=MAX_NAME), AfterValidator(validate.person_name),
                       WithJsonSchema(PERSON_NAME_SCHEMA)]  # checked by the gallery's rule (its own words), shown
# to clients as the same rule's pattern


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


class Answer(_Body):
    answer: Literal["yes", "no", "other"]
    name: PersonName | None = None  # who they are, for "other"

    @model_validator(mode="after")
    def _named_when_other(self) -> Answer:
        if (self.answer == "other") != (self.name is not None):
            raise ValueError("name: give it with answer 'other' (someone else) and only then")
        return self


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
    """A person's name from a form or a URL, or 400 saying what is wrong with it."""
    try:
        return _NAME.validate_python(text, strict=True)
    except ValidationError as error:
        raise web.HTTPBadRequest(text=f"name: {_message(error.errors()[0])}") from None


def metadata(text: str) -> dict:
    """A person's metadata from a form, or 400 saying what is wrong with it."""
    try:
        return validate.person_metadata(text)
    except ValueError as error:
        raise web.HTTPBadRequest(text=f"metadata: {error}") from None


def _message(problem: dict) -> str:
    """pydantic's message, without its "Value error, " before a rule's own words."""
    return problem["msg"].removeprefix("Value error, ")


def _first(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "body"
    return f"{where}: {_message(problem)}"
