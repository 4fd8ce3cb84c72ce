"""The API's contract (issue 13 item 6): every GET operation in /api/v1/openapi.json, called with
Schemathesis-generated parameters (a bounded, derandomised number of examples per operation),
answers without a server error, with a content type and body its schema documents.  Before: 27
disagreements and several 500s for huge numbers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from phaseout.store import Store
from phaseout.store.users import create_token
from phaseout.web.app import create_app

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

#: examples per operation: enough to reach huge numbers, odd strings and every enum value
EXAMPLES = 12


@pytest.fixture(scope="module")
def api(store: Store) -> Iterator[tuple[Any, dict[str, str]]]:
    app = create_app(store.engine, warm=False)
    auth = {"Authorization": f"Bearer {create_token(store.engine, 'ada', 'contract')}"}
    with TestClient(app):
        schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, headers=auth)
        yield schema, auth


def _operations(schema: Any) -> list[Any]:
    ops = [op.ok() for op in schema.get_all_operations()]
    return [op for op in ops if op.method.upper() == "GET"]


def test_every_get_operation_keeps_its_contract(api: tuple[Any, dict[str, str]]) -> None:
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    schema, auth = api
    operations = _operations(schema)
    assert len(operations) >= 12, [op.path for op in operations]
    failures: list[str] = []
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = case.call(headers=auth)
            case.validate_response(
                response,
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
            )

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # Schemathesis raises a group: one report for all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    assert failures == [], "\n".join(failures)


def test_every_list_answers_to_its_schema_with_real_data(api: tuple[Any, dict[str, str]], store: Store) -> None:
    """The default call of each list, on the demo estate (not only generated edge cases)."""
    from schemathesis.specs.openapi.checks import response_schema_conformance

    schema, auth = api
    for operation in _operations(schema):
        if "{" in operation.path:
            continue
        case = operation.Case()
        response = case.call(headers=auth)
        assert response.status_code == 200, (operation.path, response.status_code)
        case.validate_response(response, checks=[response_schema_conformance])
