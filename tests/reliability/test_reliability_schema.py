"""Schemathesis against the app's own OpenAPI description, on a live server with real workers.

Every generated request (valid and invalid) must get an answer that the schema
documents: no 5xx, documented status codes, bodies, headers and content types
that match, and invalid data rejected. The number of examples is bounded so the run stays well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from service.app import create_app
from service.settings import Settings
from tests.reliability.conftest import LiveServer, live_server

EXAMPLES_PER_OPERATION = 40


@pytest.fixture(scope="module")
def schema_server() -> Iterator[LiveServer]:
    # Short time limits: generated requests may ask for a day; the server clamps them (documented).
    with live_server(workers=2, default_time_limit_s=2, max_time_limit_s=2, solve_grace_s=2, queue_length=64) as srv:
        srv.wait_ready(workers=2)
        yield srv


# The description the app serves (building the app starts nothing: workers start with its lifespan).
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_matches_the_schema_and_none_is_a_server_error(case, schema_server):
    # Every check but "schema-valid data must be accepted": the schema cannot say that a supplier's
    # mineral must be declared or that "00" is no country, so such requests rightly get 422.
    response = case.call_and_validate(
        base_url=schema_server.url, timeout=30, excluded_checks=[positive_data_acceptance]
    )
    assert response.status_code < 500
