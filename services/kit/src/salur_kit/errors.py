"""Errors every service raises at its application boundary.

The HTTP edge maps each class to one status code and an RFC 9457 problem document, so
services never build HTTP responses for rule violations themselves.
"""

from __future__ import annotations


class SalurError(Exception):
    """Base of every error a service reports to a caller."""

    status: int = 400
    title: str = "Bad request"

    def __init__(self, detail: str, *, field: str | None = None, rule: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.rule = rule


class RuleViolationError(SalurError):
    """A command breaks a domain rule (illegal transition, money rule, bad value)."""

    status = 422
    title = "Rule violated"


class NotFoundError(SalurError):
    status = 404
    title = "Not found"


class ForbiddenError(SalurError):
    """The caller is authenticated but may not act on this resource."""

    status = 403
    title = "Forbidden"


class UnauthorizedError(SalurError):
    status = 401
    title = "Unauthorized"


class ConflictError(SalurError):
    """The command conflicts with the current state (e.g. already exists)."""

    status = 409
    title = "Conflict"


class StaleVersionError(ConflictError):
    """The caller's expected version is not the aggregate's current version."""

    title = "Stale version"

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(
            f"expected version {expected} but the current version is {actual}",
            field="If-Match",
            rule="optimistic-concurrency",
        )
        self.expected = expected
        self.actual = actual


class ConcurrentWriteError(ConflictError):
    """Another writer saved the same aggregate between this command's load and its save.

    The command changed nothing. Sent without If-Match, it is retried from a fresh load (see
    `salur_kit.http.CommandRoute`); with If-Match, the caller decides.
    """

    def __init__(self) -> None:
        super().__init__(
            "the resource was changed concurrently; read it again and retry",
            rule="optimistic-concurrency",
        )
