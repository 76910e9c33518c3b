"""The OpenAPI description: short stable operation ids, honest responses, a schema that says what validation does."""

from __future__ import annotations

import re
import string

import pytest
from fastapi import APIRouter
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from models.countries import ISO_3166_ALPHA2, country_pattern
from models.request import Country
from service.app import create_app
from service.auth import OPEN_PATHS
from service.files import XLSX
from service.settings import Settings

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


@pytest.fixture(scope="module")
def app():
    return create_app(Settings())


@pytest.fixture(scope="module")
def spec(app):
    return app.openapi()


def operations(spec):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_operation_ids_are_the_route_names_unique_and_snake_case(app, spec):
    ids = [op["operationId"] for _, _, op in operations(spec)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for path, method, op in operations(spec):
        op_id = op["operationId"]
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", op_id), op_id
        # not FastAPI's default form: name + path + method (create_allocation_v1_allocations_post)
        assert not op_id.endswith(f"_{method}"), op_id
        assert re.sub(r"\W", "_", path).strip("_") not in op_id or op_id == path.strip("/"), op_id


def test_a_route_added_on_a_new_router_gets_its_function_name_as_id(app):
    router = APIRouter()

    @router.post("/v1/widgets/{widget_id}/frobnicate")
    async def frobnicate_widget(widget_id: str) -> dict[str, str]:
        return {}

    app = create_app(Settings())
    app.include_router(router)
    ids = {op["operationId"] for _, _, op in operations(app.openapi())}
    assert "frobnicate_widget" in ids


def test_the_core_operations_have_their_short_names(spec):
    by_route = {(method, path): op["operationId"] for path, method, op in operations(spec)}
    assert by_route[("post", "/v1/allocations")] == "allocate"
    assert by_route[("post", "/v1/allocations/csv")] == "allocate_csv"
    assert by_route[("post", "/v1/allocations/xlsx")] == "allocate_xlsx"
    assert by_route[("get", "/v1/templates/allocation.xlsx")] == "get_template"
    assert by_route[("get", "/v1/examples")] == "list_examples"
    assert by_route[("get", "/v1/examples/{name}")] == "get_example"
    assert by_route[("get", "/healthz")] == "healthz"
    assert by_route[("get", "/readyz")] == "readyz"


def refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_every_error_is_an_error_body_and_fastapis_validation_error_is_gone(spec):
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "ValidationError" not in spec["components"]["schemas"]
    assert not any(r.endswith("ValidationError") for r in refs(spec))
    for path, _, op in operations(spec):
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")) and path != "/readyz":  # (readyz's 503 is its own status body)
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorBody"
                }, (op["operationId"], status)


def test_every_operation_declares_what_the_middleware_may_answer(spec):
    for path, method, op in operations(spec):
        statuses = set(op["responses"])
        assert ("401" in statuses) == (path not in OPEN_PATHS), op["operationId"]
        if "requestBody" in op:
            assert "413" in statuses and "422" in statuses, op["operationId"]
        if method == "post" and path.startswith("/v1/allocations"):
            assert "503" in statuses, op["operationId"]


def test_examples_are_typed(spec):
    def schema_of(path):
        return spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]

    assert schema_of("/v1/examples/{name}") == {"$ref": "#/components/schemas/Example"}
    assert schema_of("/v1/examples")["items"] == {"$ref": "#/components/schemas/ExampleSummary"}
    example = spec["components"]["schemas"]["Example"]
    assert set(example["required"]) == {"name", "title", "description", "notes", "request"}
    assert example["properties"]["request"] == {"$ref": "#/components/schemas/AllocationRequest"}


def test_spreadsheet_downloads_and_uploads_are_binary_with_their_media_types(spec):
    binary = {"type": "string", "format": "binary"}
    for path, method in (("/v1/templates/allocation.xlsx", "get"), ("/v1/allocations/xlsx", "post")):
        content = spec["paths"][path][method]["responses"]["200"]["content"]
        assert set(content) == {XLSX}
        assert binary.items() <= content[XLSX]["schema"].items()
    for path in ("/v1/allocations", "/v1/allocations/csv"):
        content = spec["paths"][path]["post"]["responses"]["200"]["content"]
        assert binary.items() <= content["text/csv"]["schema"].items()
    xlsx_body = spec["paths"]["/v1/allocations/xlsx"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert xlsx_body["encoding"] == {"file": {"contentType": XLSX}}
    assert binary.items() <= xlsx_body["schema"]["properties"]["file"].items()
    csv_body = spec["paths"]["/v1/allocations/csv"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert {name: e["contentType"] for name, e in csv_body["encoding"].items()} == dict.fromkeys(
        ("minerals", "suppliers", "policy"), "text/csv"
    )
    budget = csv_body["schema"]["properties"]["budget"]
    assert (budget["minimum"], budget["maximum"]) == (1e-6, 1e15)
    assert csv_body["schema"]["properties"]["mip_gap"]["maximum"] == 1


def test_bounds_that_validation_enforces_are_in_the_schema(spec):
    schemas = spec["components"]["schemas"]
    bounds = {"minimum": 1e-6, "maximum": 1e15}
    assert bounds.items() <= schemas["AllocationRequest"]["properties"]["budget"].items()
    assert bounds.items() <= schemas["Mineral"]["properties"]["target"].items()
    offer = schemas["SupplierOffer"]["properties"]
    assert offer["country"]["pattern"] == country_pattern()
    assert bounds.items() <= offer["capacity"].items()
    assert offer["id"]["minLength"] == 1 and offer["id"]["maxLength"] == 200
    policy = schemas["Policy"]["properties"]
    assert policy["tariffs"]["propertyNames"]["pattern"] == country_pattern()
    assert {"type": "integer", "minimum": 1} in policy["max_suppliers"]["anyOf"]
    assert all("ge" not in branch for branch in policy["max_suppliers"]["anyOf"])


COUNTRY = TypeAdapter(Country)


def accepted(text: str) -> bool:
    try:
        COUNTRY.validate_python(text)
    except ValidationError:
        return False
    return True


def test_the_country_pattern_matches_exactly_what_validation_accepts_among_letters_and_digits():
    pattern = re.compile(country_pattern())
    alphabet = string.ascii_letters + string.digits + " \u0131\u017f\ufb01\u00df-"
    for a in alphabet:
        for b in alphabet:
            assert bool(pattern.match(a + b)) == accepted(a + b), repr(a + b)
    assert all(pattern.match(code) and pattern.match(code.lower()) for code in ISO_3166_ALPHA2)
    assert not pattern.match("00") and not pattern.match("XX") and not pattern.match("USA")


@settings(max_examples=500, deadline=None)
@given(st.text(min_size=0, max_size=3))
def test_the_country_pattern_matches_exactly_what_validation_accepts(text):
    assert bool(re.match(country_pattern(), text)) == accepted(text)
