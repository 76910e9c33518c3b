"""Schemathesis against the app's own OpenAPI description, on a live server with real workers.

Every generated request must get an answer that the schema documents, with schemathesis's full
default checks: no 5xx; documented status codes, bodies, headers and content types; schema-invalid
data rejected, and schema-valid data accepted (the rules that relate several fields, which a JSON
schema cannot state, and those that depend on what the server holds, are made to hold by
``schema_hooks``, which says how). The number of examples is bounded so
the run stays well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from service.app import create_app
from service.settings import Settings
from tests.reliability import schema_hooks  # (importing it registers its map_case hook)
from tests.reliability.conftest import LiveServer, live_server

EXAMPLES_PER_OPERATION = 40


@pytest.fixture(scope="module")
def schema_server() -> Iterator[LiveServer]:
    # Short time limits: generated requests may ask for a day; the server clamps them (documented).
    with live_server(
        workers=2, default_time_limit_s=2, max_time_limit_s=2, solve_grace_s=2, queue_length=64, stress_time_limit_s=2
    ) as srv:
        srv.wait_ready(workers=2)
        yield srv


# The description the app serves (building the app starts nothing: workers start with its lifespan).
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


# The live server runs in a thread of this process, and its Dask scheduler draws from the global
# ``random`` module while hypothesis generates a case; hypothesis takes that for a strategy using it.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@schema.parametrize()
# Derandomized: the same examples on every run, so that CI's verdict is the code's and not the draw's
# (a wider search: SCHEMATHESIS_HOOKS=tests.reliability.schema_hooks st run URL/openapi.json).
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_matches_the_schema_and_none_is_a_server_error(case, schema_server):
    with schema_server.client() as client:
        schema_hooks.fit_to_server(case, client)
    response = case.call_and_validate(base_url=schema_server.url, timeout=30, **schema_hooks.uploads(case))
    assert response.status_code < 500
