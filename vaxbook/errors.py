"""The one domain error hierarchy. Pure Python: domains raise these, vaxbook.problems maps them to HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vaxbook.i18n import Text


@dataclass(frozen=True)
class FieldError:
    """One bad input field, named as the client sent it (dotted for nested fields)."""

    field: str
    code: str
    message: Text
    source: str = "body"


class DomainError(Exception):
    """Base of every error a use case may raise. Subclasses set status, slug and title."""

    status: int = 400
    slug: str = "bad-request"
    title: Text = Text("Yêu cầu không hợp lệ", "Bad request")
    about: str | None = None
    """The one field of the request this refusal is about (a QR that is none of ours, a lot of another vaccine): named
    in the answer's `errors` as a refusal of input is, so that a form or a scanner app says it beside that field."""
    about_source: str = "body"  # where that field is: the body, or a header (Idempotency-Key)
    counts_as_attempt: bool = True
    """Whether a refusal of this kind that came past the screen stays counted against the caller's attempts
    (vaxbook.idempotency.run_once). A refusal the screen gives is never counted."""

    def __init__(
        self,
        detail: Text | None = None,
        *,
        field_errors: tuple[FieldError, ...] = (),
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail.en if detail else self.title.en)
        self.detail = detail
        if not field_errors and self.about:
            code = self.slug.replace("-", "_")
            field_errors = (FieldError(self.about, code, detail or self.title, self.about_source),)
        self.field_errors = field_errors
        self.headers = headers or {}
        self.extra = extra


class Invalid(DomainError):
    status = 422
    slug = "validation"
    title = Text("Dữ liệu không hợp lệ", "Invalid input")

    @classmethod
    def field(cls, field: str, code: str, message: Text, *, source: str = "body") -> Invalid:
        return cls(message, field_errors=(FieldError(field, code, message, source),))


class Unauthorized(DomainError):
    status = 401
    slug = "unauthorized"
    title = Text("Chưa đăng nhập hoặc phiên đã hết hạn", "Not signed in or session expired")


class Forbidden(DomainError):
    status = 403
    slug = "forbidden"
    title = Text("Bạn không có quyền thực hiện thao tác này", "You are not allowed to do this")


class UnsupportedMediaType(DomainError):
    status = 415
    slug = "unsupported-media-type"
    title = Text("Định dạng dữ liệu không được hỗ trợ", "Unsupported media type")


class NotFound(DomainError):
    status = 404
    slug = "not-found"
    title = Text("Không tìm thấy", "Not found")


class Conflict(DomainError):
    status = 409
    slug = "conflict"
    title = Text("Xung đột với dữ liệu hiện có", "Conflicts with the current state")


class Taken(Conflict):
    """A value that must be unique is someone else's already: the answer names the field holding it (code `taken`),
    as a refusal of input does, so that a form says it beside the field and an import beside its column."""

    field: str

    def __init__(self, detail: Text | None = None, **extra: Any) -> None:
        said = detail or self.title
        super().__init__(detail, field_errors=(FieldError(self.field, "taken", said),), **extra)


class TooManyRequests(DomainError):
    status = 429
    slug = "too-many-requests"
    title = Text("Quá nhiều yêu cầu, vui lòng thử lại sau", "Too many requests, please try again later")

    def __init__(self, detail: Text | None = None, *, retry_after_seconds: int, **extra: Any) -> None:
        retry_after = max(1, retry_after_seconds)
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, retry_after=retry_after, **extra)


class Unavailable(DomainError):
    status = 503
    slug = "unavailable"
    title = Text("Dịch vụ tạm thời không sẵn sàng", "Service temporarily unavailable")


class DatabaseUnavailable(DomainError):
    """The database is out of reach for a moment (a restart, a failover, a cut connection). A request cut off on its
    way may or may not have been done: sent again with the same Idempotency-Key, it is done once."""

    status = 503
    slug = "database-unavailable"
    title = Text(
        "Tạm thời không kết nối được cơ sở dữ liệu, vui lòng thử lại", "The database is out of reach, please try again"
    )

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "2"})


class Busy(DomainError):
    """Nothing was done: the service is at its limit (or two transactions caught each other); the same request sent
    again after Retry-After will go through."""

    status = 503
    slug = "busy"
    title = Text("Hệ thống đang bận, vui lòng thử lại", "The system is busy, please try again")

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "1"})


def domain_errors() -> list[type[DomainError]]:
    """Every kind of refusal the domains define, however deep its class."""
    found: list[type[DomainError]] = []
    todo: list[type[DomainError]] = [DomainError]
    while todo:
        error = todo.pop()
        found.append(error)
        todo += error.__subclasses__()
    return found
