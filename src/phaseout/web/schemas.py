"""What the API answers, as OpenAPI schemas: the contract ``tests/web/test_contract.py`` holds
every response to.  Rows allow extra fields (a new column is not a breaking change); the fields
named here are promised, with their types.  CSV downloads and error answers are documented too,
so a client knows every status and content type it can receive."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict


class Row(BaseModel):
    model_config = ConfigDict(extra="allow")


class Problem(BaseModel):
    """Every 4xx answer: ``detail`` says what was wrong (a list of fields for 422)."""

    detail: Any


class Me(BaseModel):
    name: str
    role: Literal["viewer", "planner", "admin"]
    via: Literal["session", "token"]


class SiteRow(Row):
    code: str
    name: str
    region: str
    sensitivity: str
    devices: int
    covered: int
    risk: float | None


class DeviceRow(Row):
    id: int
    site: str | None
    ip: str | None
    mac: str | None
    serial: str | None
    vendor: str | None
    label: str | None
    status: str
    confidence: float | None
    risk: float | None
    policy_status: str | None


class PlanRow(Row):
    id: int
    name: str
    created_at: str
    status: str
    objective: float | None


class ImportRow(Row):
    id: int
    kind: str
    file_name: str
    status: str


class WorkOrderRow(Row):
    id: int
    plan_id: int
    package: str
    site: str
    status: str
    devices: int | None


class EventRow(Row):
    id: int
    seq: int
    at: str
    actor: str
    action: str
    entity: str
    entity_id: str
    before: Any
    after: Any
    prev_hash: str
    hash: str


class UserRow(Row):
    id: int
    name: str
    role: Literal["viewer", "planner", "admin"]
    disabled: bool
    created_at: str
    sessions: int
    tokens: int


class NewUser(BaseModel):
    name: str
    role: Literal["viewer", "planner", "admin"]
    password: str


T = TypeVar("T")


class Paged(BaseModel, Generic[T]):
    total: int
    page: int
    size: int
    items: list[T]


def csv_or(model: Any) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a list that is JSON (``model``) or, with ``?format=csv``, a CSV file."""
    return {
        200: {
            "model": model,
            "description": "JSON, or a CSV file with `format=csv` (formula cells neutralised)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such item"}}
#: every /api/v1 answer may be one of these
COMMON: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No login and no valid bearer token"},
    403: {"model": Problem, "description": "The caller's role is too low, or a session's CSRF token is missing"},
    408: {"model": Problem, "description": "The request body did not arrive in time"},
    413: {"model": Problem, "description": "The request body is over its cap"},
    422: {"model": Problem, "description": "A parameter is invalid"},
    429: {"model": Problem, "description": "Two exports are already running"},
}
