"""Errors as RFC 9457 problem details (`application/problem+json`).

A view raises `Problem(status, title, detail=...)`; the handlers installed on the API
(`problems_install`) turn it, and ninja's and Django's own errors, into one shape:
`type`, `title`, `status`, `detail`, `instance`, and for invalid input an `errors`
list saying where and why.
"""

import json
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

PROBLEM_JSON = "application/problem+json"
# The problems have no page of their own: `type` is about:blank, and `title` says what
# kind of problem it is (RFC 9457 section 4.2.1).
ABOUT_BLANK = "about:blank"


class Problem(Exception):  # noqa: N818 (the RFC's name for it)
    def __init__(
        self,
        status: int,
        title: str | None = None,
        *,
        detail: str = "",
        type: str = ABOUT_BLANK,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ):
        self.status = status
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.type = type
        self.headers = headers or {}
        self.errors = errors
        super().__init__(f"{status} {self.title}: {detail}")


class ProblemOut(Schema):
    """What every error answers (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, Any]] | None = None


def problem_response(request: HttpRequest, problem: Problem) -> HttpResponse:
    body: dict[str, Any] = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.path,
    }
    if problem.errors is not None:
        body["errors"] = problem.errors
    response = HttpResponse(
        json.dumps(body, default=str), status=problem.status, content_type=PROBLEM_JSON
    )
    for name, value in problem.headers.items():
        response[name] = value
    return response


def _unauthenticated(request, exc):
    return problem_response(
        request,
        Problem(
            401,
            "Unauthorized",
            detail="Send an API key as `Authorization: Bearer vgl_...`: it was missing, "
            "unknown, expired or revoked.",
            headers={"WWW-Authenticate": 'Bearer realm="vigil"'},
        ),
    )


def _invalid(request, exc: ValidationError):
    errors = [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in exc.errors
    ]
    where = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
    return problem_response(
        request,
        Problem(422, "Invalid input", detail=where or "The input is invalid.", errors=errors),
    )


def _http_error(request, exc: HttpError):
    headers = {}
    if exc.status_code == 429 and getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    return problem_response(request, Problem(exc.status_code, detail=exc.message, headers=headers))


def _not_found(request, exc):
    return problem_response(
        request, Problem(404, "Not Found", detail="No such object in this account.")
    )


def _forbidden(request, exc):
    return problem_response(request, Problem(403, "Forbidden", detail=str(exc)))


def problems_install(api) -> None:
    api.add_exception_handler(Problem, problem_response)
    api.add_exception_handler(AuthenticationError, _unauthenticated)
    api.add_exception_handler(ValidationError, _invalid)
    api.add_exception_handler(HttpError, _http_error)
    api.add_exception_handler(Http404, _not_found)
    api.add_exception_handler(PermissionDenied, _forbidden)
