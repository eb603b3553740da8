"""Every instant an answer holds is shown in the zone of the place it belongs to: every response model with a
datetime derives from ZonedModel, which renders its instants in its `timezone`. Walks every route's answer."""

from __future__ import annotations

import types
import typing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel

from vaxbook.app import create_app
from vaxbook.fields import ZonedModel
from vaxbook.settings import Settings


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models an annotation names, through lists, unions, Optional and generics."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is None:
        return []
    found = []
    if isinstance(origin, type) and issubclass(origin, BaseModel):
        found.append(origin)
    for argument in typing.get_args(annotation):
        found += _models_in(argument)
    return found


def _holds_datetime(annotation: object) -> bool:
    if annotation is datetime:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, tuple, typing.Annotated):
        return any(_holds_datetime(a) for a in typing.get_args(annotation))
    return False


def _answer_models(tmp_path: Path) -> set[type[BaseModel]]:
    app = create_app(Settings(jwt_secret="x" * 40, data_dir=tmp_path), dsn="postgresql://nobody@localhost/none")
    seen: set[type[BaseModel]] = set()
    waiting = [
        model
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        for model in _models_in(handler.parsed_fn_signature.return_type.annotation)
    ]
    while waiting:
        model = waiting.pop()
        if model in seen:
            continue
        seen.add(model)
        for field in model.model_fields.values():
            waiting += _models_in(field.annotation)
    return seen


def test_every_answer_with_an_instant_shows_it_in_its_place_s_zone(tmp_path: Path) -> None:
    models = _answer_models(tmp_path)
    assert len(models) > 40, "the walk found the answers"
    with_instants = {m for m in models if any(_holds_datetime(f.annotation) for f in m.model_fields.values())}
    assert with_instants, "some answers hold instants"
    unzoned = sorted(m.__qualname__ for m in with_instants if not issubclass(m, ZonedModel))
    assert unzoned == []


def test_the_walk_finds_a_model_that_breaks_the_rule(tmp_path: Path) -> None:
    """The control: an answer model with an instant and no zone is caught by the same check."""

    class Naive(BaseModel):
        at: datetime | None

    assert _holds_datetime(Naive.model_fields["at"].annotation)
    assert not issubclass(Naive, ZonedModel)


@pytest.mark.parametrize("zone", ["Asia/Ho_Chi_Minh", "Asia/Tokyo", "America/Los_Angeles"])
def test_a_zoned_model_renders_every_instant_in_its_zone(zone: str) -> None:
    class Visit(ZonedModel):
        starts_at: datetime
        ended_at: datetime | None = None

    at = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    shown = Visit(starts_at=at, ended_at=at, timezone=zone).model_dump(mode="json")
    expected = at.astimezone(__import__("zoneinfo").ZoneInfo(zone)).isoformat()
    assert shown["starts_at"] == shown["ended_at"] == expected
