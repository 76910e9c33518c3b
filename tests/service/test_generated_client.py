"""A client generated from the live /openapi.json with openapi-python-client works as an integrator would use it.

The client is generated into a temporary directory, imported, and used against a real server (worker
processes and all): it solves the dla-2025 example, gets a typed 422 (``ErrorBody``) for a bad request,
and downloads and uploads the XLSX workbook as bytes.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from types import ModuleType

import pytest

from models import AllocationRequest, AllocationResult
from service.files import XLSX
from solvers import check_result
from tests.reliability.conftest import LiveServer, live_server

PACKAGE = "stockpile_client"
# openapi-python-client reads only application/octet-stream as bytes: the workbook's media type is
# mapped to it, as its documentation advises for other binary types. (Documented in the README.)
GENERATOR_CONFIG = f"content_type_overrides:\n  {XLSX}: application/octet-stream\n"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(workers=1) as srv:
        srv.wait_ready(workers=1)
        yield srv


@pytest.fixture(scope="module")
def generated(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated package, imported (generated with its ruff post-processing, which runs offline)."""
    root = tmp_path_factory.mktemp("generated")
    spec = root / "openapi.json"
    with server.client() as http:
        spec.write_bytes(http.get("/openapi.json").content)
    config = root / "config.yaml"
    config.write_text(GENERATOR_CONFIG)
    venv_bin = str(Path(sys.executable).parent)  # openapi-python-client and ruff, from the test extras
    env = {**os.environ, "PATH": venv_bin + os.pathsep + os.environ.get("PATH", "")}
    run = subprocess.run(
        [
            os.path.join(venv_bin, "openapi-python-client"),
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
            "--output-path",
            str(root / PACKAGE),
            "--config",
            str(config),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Warning" not in output and "WARNING" not in output, output  # every operation, every response
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def module(generated: ModuleType, name: str) -> ModuleType:
    return importlib.import_module(f"{generated.__name__}.{name}")


@pytest.fixture
def client(generated: ModuleType, server: LiveServer):
    return generated.Client(base_url=server.url, timeout=120.0, raise_on_unexpected_status=True)


def test_every_operation_has_a_function_named_by_its_operation_id(generated):
    names = {
        "allocations": ["allocate"],
        "examples": ["get_example", "list_examples"],
        "health": ["healthz", "readyz"],
        "spreadsheets": ["allocate_csv", "allocate_xlsx", "get_template"],
    }
    for tag, operations in names.items():
        for operation in operations:
            assert callable(module(generated, f"api.{tag}.{operation}").sync_detailed)


@pytest.mark.slow
def test_the_generated_client_solves_the_dla_example(generated, client):
    models = module(generated, "models")
    listed = module(generated, "api.examples.list_examples").sync(client=client)
    assert {type(e) for e in listed} == {models.ExampleSummary} and listed[0].name == "dla-2025"
    example = module(generated, "api.examples.get_example").sync(name="dla-2025", client=client)
    assert isinstance(example, models.Example) and isinstance(example.request, models.AllocationRequest)
    assert example.notes and example.request.suppliers[0].country == "CA"

    result = module(generated, "api.allocations.allocate").sync(client=client, body=example.request)
    assert isinstance(result, models.AllocationResult)
    assert result.status == models.Status.OPTIMAL
    request = AllocationRequest.model_validate(example.request.to_dict())
    assert check_result(request, AllocationResult.model_validate(result.to_dict())) == []


def test_a_bad_request_gets_a_typed_422(generated, client):
    models = module(generated, "models")
    body = models.AllocationRequest(
        budget=1_000_000,
        minerals=[models.Mineral(id="cobalt", target=20)],
        suppliers=[models.SupplierOffer(id="a", mineral="nickel", country="00", capacity=15, unit_price=35_000)],
    )
    response = module(generated, "api.allocations.allocate").sync_detailed(client=client, body=body)
    assert response.status_code == 422
    error = response.parsed
    assert isinstance(error, models.ErrorBody) and error.error == "invalid_request"
    assert all(isinstance(p, models.Problem) for p in error.problems)
    assert {(p.path, p.code) for p in error.problems} == {
        ("suppliers[0].country", "country_code"),
        ("suppliers[0].mineral", "unknown_mineral"),
    }


@pytest.mark.slow
def test_the_workbook_goes_down_and_up_as_bytes(generated, client):
    types = module(generated, "types")
    template = module(generated, "api.spreadsheets.get_template").sync(client=client)
    assert isinstance(template, types.File)
    workbook = template.payload.read()
    assert workbook[:2] == b"PK"
    body = module(generated, "models").AllocateXlsxBody(
        file=types.File(payload=BytesIO(workbook), file_name="allocation.xlsx", mime_type=XLSX)
    )
    response = module(generated, "api.spreadsheets.allocate_xlsx").sync_detailed(client=client, body=body)
    assert response.status_code == 200, response.content[:500]
    assert response.headers["content-type"] == XLSX
    assert isinstance(response.parsed, types.File) and response.parsed.payload.read()[:2] == b"PK"
