"""What a form just did, said on the page it leads to. The form's redirect names it (`?done=cancelled&of=<id>`); the
page says it in the visitor's words from what it reads itself (the booking's code, the person's name), and only of
what is the visitor's own and as it stands (a cancelled booking is said cancelled only while it is): an address typed
by hand can at most repeat a confirmation of the visitor's own ("your profile is saved"), never claim anything of
someone else's. A reload says it again and does nothing twice."""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlencode
from uuid import UUID

from litestar.response import Redirect

from web.view import AnyRequest, to


class Done(NamedTuple):
    what: str  # a key of web.text.WORDS after "done_"
    of: UUID | None  # the object it was done to, when the page needs it to say it


def done(path: str, what: str, of: UUID | None = None, *, keep: dict[str, str] | None = None) -> Redirect:
    """After a form: the page that shows its result, told what was just done (with `keep`, the page's own query)."""
    return to(f"{path}?{urlencode((keep or {}) | {'done': what} | ({'of': str(of)} if of else {}))}")


def just_done(request: AnyRequest) -> Done | None:
    """What the form before this page did, as its redirect named it (None when it named nothing)."""
    what = (request.query_params.get("done") or "")[:20]
    if not what:
        return None
    try:
        of = UUID(request.query_params.get("of") or "")
    except ValueError:
        of = None
    return Done(what, of)
