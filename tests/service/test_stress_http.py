"""POST /v1/stress-tests and /v1/robust-allocations over HTTP, and the stress and robust commands."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from models import AllocationRequest
from models.disruptions import RobustAllocationResult, StressTestResult
from service import examples
from service.app import create_app
from service.settings import Settings
from solvers import check_result
from tests.reliability.conftest import wait_until


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    # dask_workers=0: the analyses solve in this process, no cluster for these tests
    app = create_app(Settings(workers=1, stress_max_draws=50_000, dask_workers=0))
    with TestClient(app) as c:
        yield c


@pytest.fixture
def body() -> dict:
    e = examples.catalogue()["dla-2025-disruption"]
    return copy.deepcopy({"request": e["request"], "disruptions": e["disruptions"], "draws": 3000, "seed": 2})


def test_a_hold_test_answers_every_field(client, body):
    r = client.post("/v1/stress-tests", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert {"draws", "seed", "hold", "done", "complete"} <= data.keys()
    assert "replan" not in data and "draw_details" not in data
    result = StressTestResult.model_validate(data)
    hold = result.hold
    assert result.done == 3000 and result.complete
    assert set(hold.coverage_score.model_dump()) == {"mean", "p5", "p25", "p50", "p75", "p95", "min", "max"}
    assert hold.coverage_score.p5 <= hold.coverage_score.p50 <= hold.coverage_score.p95
    assert [m.id for m in hold.minerals] == [m["id"] for m in body["request"]["minerals"]]
    assert len(hold.worst) == 10
    assert hold.worst == sorted(hold.worst, key=lambda w: w.coverage_score)
    assert hold.drivers[0].event.startswith(("country ", "supplier "))


def test_both_modes_with_details(client, body):
    r = client.post("/v1/stress-tests", json={**body, "draws": 12, "mode": "both", "details": True})
    assert r.status_code == 200, r.text
    result = StressTestResult.model_validate(r.json())
    assert len(result.draw_details) == 12
    d = result.draw_details[3]
    assert d.index == 3 and d.hold is not None and d.replan is not None
    assert result.value_of_flexibility == pytest.approx(
        result.replan.coverage_score.mean - result.hold.coverage_score.mean
    )


@pytest.mark.parametrize(("accept", "magic"), [("image/svg+xml", b"<?xml"), ("image/png", b"\x89PNG")])
def test_histograms(client, body, accept, magic):
    r = client.post("/v1/stress-tests", json={**body, "draws": 500}, headers={"Accept": accept})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(accept)
    assert r.content.startswith(magic)


def _paths(response) -> set[str]:
    assert response.status_code == 422, response.text
    return {p["path"] for p in response.json()["problems"]}


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"disruptions": {"countries": {"CN": 1.2}}}, "disruptions.countries.CN"),
        ({"disruptions": {"countries": {"RU": 0.2}}}, "disruptions.countries.RU"),
        ({"disruptions": {"suppliers": {"nobody": 0.2}}}, "disruptions.suppliers.nobody"),
        ({"disruptions": {"price_shocks": {"gold": 0.2}}}, "disruptions.price_shocks.gold"),
        ({"draws": 100_001}, "draws"),
        ({"draws": 60_000}, "draws"),  # over this service's own limit
        ({"draws": 20_000, "details": True}, "details"),
        ({"mode": "sometimes"}, "mode"),
        ({"plan": {"allocations": [{"supplier_id": "nobody", "quantity": 1}]}}, "plan.allocations[0].supplier_id"),
        ({"plan": {"allocations": [{"supplier_id": "co-au", "quantity": 150}]}}, "plan.allocations[0].quantity"),
        ({"plan": {"allocations": [{"supplier_id": "co-cn", "quantity": 20000}]}}, "plan.allocations"),
    ],
)
def test_bad_input_is_a_422_naming_the_path(client, body, change, path):
    assert path in _paths(client.post("/v1/stress-tests", json={**body, **change}))


def test_robust_allocation_over_http(client, body):
    r = client.post("/v1/robust-allocations", json={**body, "draws": 100, "measure": "cvar", "alpha": 0.1})
    assert r.status_code == 200, r.text
    result = RobustAllocationResult.model_validate(r.json())
    assert check_result(AllocationRequest.model_validate(body["request"]), result) == []
    risk = result.risk
    assert risk.measure == "cvar" and risk.draws == 100 and risk.out_of_sample.draws >= 100
    assert risk.objective["robust"] >= risk.objective["optimal"] - 1e-9
    assert _paths(client.post("/v1/robust-allocations", json={**body, "draws": 1001})) == {"draws"}
    assert "alpha" in _paths(client.post("/v1/robust-allocations", json={**body, "alpha": 0}))


def test_a_running_test_is_listed_and_can_be_cancelled(client, body):
    assert client.get("/v1/stress-tests/running").json() == []
    assert client.delete("/v1/stress-tests/running/nothing").status_code == 404
    answer: dict = {}

    def post() -> None:
        big = {**body, "draws": 20_000, "mode": "replan"}
        answer["r"] = client.post("/v1/stress-tests", json=big, headers={"Stockpile-Test-Id": "t1"})

    thread = threading.Thread(target=post)
    thread.start()
    listed = []
    while thread.is_alive() and not any(t["done"] > 0 for t in listed):
        listed = client.get("/v1/stress-tests/running").json()
    assert listed and listed[0]["id"] == "t1" and listed[0]["total"] == 20_000
    assert client.delete("/v1/stress-tests/running/t1").status_code == 202
    thread.join(timeout=120)
    result = StressTestResult.model_validate(answer["r"].json())
    assert not result.complete and 0 < result.done < 20_000


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_cli_stress_prints_a_readable_summary_with_progress():
    done = _cli("stress", "--example", "dla-2025-disruption", "--draws", "40", "--mode", "both", "--progress")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("stress test: 40 of 40 draws, seed 0")
    for text in ("== hold", "== replan", "mineral", "P<50%", "drivers", "worst draws", "value of flexibility"):
        assert text in out
    assert "80 / 80 draws" in done.stderr  # 40 draws in each of two modes


def test_cli_stress_json_and_bad_input(tmp_path):
    done = _cli("stress", "--example", "dla-2025-disruption", "--draws", "100", "--json")
    assert StressTestResult.model_validate_json(done.stdout).done == 100
    bad = tmp_path / "d.json"
    bad.write_text(json.dumps({"countries": {"CN": 2}}))
    done = _cli("stress", "--example", "dla-2025", "--disruptions", str(bad))
    assert done.returncode == 2
    assert "disruptions.countries.CN" in done.stderr


def test_cli_robust_prints_the_allocation_and_its_risk():
    done = _cli("robust", "--example", "dla-2025-disruption", "--draws", "60", "--measure", "cvar")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("status: ")
    assert "risk (cvar, alpha 0.1, 60 draws)" in done.stdout
    assert "out of sample: robust" in done.stdout


def _lines(result: dict) -> list[tuple[str, float]]:
    return sorted((a["supplier_id"], round(a["quantity"], 6)) for a in result["allocations"])


def test_a_robust_allocation_job_answers_as_the_route_does(client, body):
    robust = {**body, "draws": 100, "measure": "cvar", "alpha": 0.1}
    direct = client.post("/v1/robust-allocations", json=robust)
    assert direct.status_code == 200, direct.text
    job = client.post("/v1/jobs", json={"kind": "robust_allocation", "input": robust})
    assert job.status_code == 202, job.text
    job_id = job.json()["id"]
    wait_until(lambda: client.get(f"/v1/jobs/{job_id}").json()["status"] not in ("queued", "running"), timeout=120)
    assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "succeeded"
    result = client.get(f"/v1/jobs/{job_id}/result").json()
    assert _lines(result) == _lines(direct.json()) and _lines(result)
    assert result["risk"]["objective"] == direct.json()["risk"]["objective"]
