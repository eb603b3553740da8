"""Every operation in the OpenAPI document says what it is for: a summary of its own (not the handler's name, and
no other operation's) and a description (the handler's docstring). Walks every route of the app."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from litestar import Litestar, get, post
from litestar.openapi import OpenAPIConfig
from litestar.routes import HTTPRoute

from vaxbook.app import create_app
from vaxbook.settings import Settings

_ARTICLES = {"a", "an", "the"}


def _squashed(words: list[str]) -> str:
    """Words lower-cased and run together, articles left out: "Create a clinic" and create_clinic match."""
    return "".join(w for w in words if w not in _ARTICLES)


def _from_name(summary: str, handler_name: str) -> bool:
    """The summary says no more than the handler's name does (as Litestar's "ListStaff" or "Book")."""
    return _squashed(re.findall(r"[a-z0-9]+", summary.lower())) == _squashed(handler_name.lower().split("_"))


def _undocumented(app: Litestar) -> list[str]:
    """Every way an operation of the app's OpenAPI document falls short, one line each."""
    paths = app.openapi_schema.to_schema()["paths"]
    problems: list[str] = []
    summaries: Counter[str] = Counter()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            for method in sorted(handler.http_methods):
                where = f"{method} {route.path_format} ({handler.handler_name})"
                operation: dict[str, Any] = paths[route.path_format][method.lower()]
                summary = operation.get("summary") or ""
                if handler.summary is None or not summary.strip():
                    problems.append(f"{where}: no summary of its own")
                elif _from_name(summary, handler.handler_name):
                    problems.append(f"{where}: summary {summary!r} only repeats the handler's name")
                summaries[summary.strip().casefold()] += 1
                if not (operation.get("description") or "").strip():
                    problems.append(f"{where}: no description")
    problems += [f"summary {s!r} is used {n} times" for s, n in sorted(summaries.items()) if n > 1]
    return problems


def test_every_operation_has_a_summary_of_its_own_and_a_description(tmp_path: Path) -> None:
    app = create_app(Settings(jwt_secret="x" * 40, data_dir=tmp_path), dsn="postgresql://nobody@localhost/none")
    operations = [(method, path) for path, item in app.openapi_schema.to_schema()["paths"].items() for method in item]
    assert len(operations) > 100, "the walk found the API"
    assert _undocumented(app) == []


def _tiny_app(*handlers: Any) -> Litestar:
    return Litestar(
        route_handlers=list(handlers),
        openapi_config=OpenAPIConfig(title="tiny", version="1", use_handler_docstrings=True),
    )


def test_the_check_catches_an_undocumented_handler() -> None:
    """The control: a handler with neither summary nor docstring, one whose summary is its name again, and two
    that share a summary are each caught by the same check; a documented one is not."""

    @get("/things")
    async def list_things() -> list[str]:
        return []

    @post("/things", summary="Create thing")
    async def create_thing() -> str:
        """Makes a thing."""
        return "thing"

    @get("/a", summary="Same words")
    async def first() -> str:
        """The first."""
        return "a"

    @get("/b", summary="Same words")
    async def second() -> str:
        """The second."""
        return "b"

    @get("/c", summary="Everything about one thing")
    async def documented() -> str:
        """A handler with a summary of its own and a docstring."""
        return "c"

    assert _undocumented(_tiny_app(documented)) == []
    assert _undocumented(_tiny_app(list_things)) == [
        "GET /things (list_things): no summary of its own",
        "GET /things (list_things): no description",
    ]
    assert _undocumented(_tiny_app(create_thing)) == [
        "POST /things (create_thing): summary 'Create thing' only repeats the handler's name"
    ]
    assert _undocumented(_tiny_app(first, second, documented)) == ["summary 'same words' is used 2 times"]
    # Litestar's own summary for an undocumented handler is its name run together
    assert _from_name("ListThings", "list_things")
    assert _from_name("Create a clinic", "create_clinic")
    assert not _from_name("Book a seat", "book")
