"""Untrusted uploads (size, XML entities, zip bombs, rows) and formula injection in what we write."""

from __future__ import annotations

import csv
import io
import time
import tracemalloc
import zipfile
from typing import Any, Self

import anyio
import openpyxl
import pytest
from defusedxml import DefusedXmlException

from service.app import create_app
from service.errors import InvalidRequest, StockpileError
from service.settings import Settings
from service.spreadsheet import Limits, read_workbook, template_bytes
from service.spreadsheet.csvio import allocation_csv, read_csv_request
from service.spreadsheet.safety import FORMULA_TRIGGERS, csv_text, csv_unescape, require_defusedxml

from .conftest import SMALL, NoSolves, capped_client, load

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EVIL = '=HYPERLINK("http://x","y")'

LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + ']>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
)


def _replace_part(data: bytes, name: str, content: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, content if info.filename == name else src.read(info))
    return out.getvalue()


class Measured:
    """Wall time and peak traced Python memory of a block."""

    def __enter__(self) -> Self:
        tracemalloc.start()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def test_defusedxml_is_in_force_for_openpyxl(monkeypatch):
    from openpyxl.worksheet import _reader
    from openpyxl.xml import functions

    assert openpyxl.DEFUSEDXML is True
    assert _reader.iterparse.__module__.startswith("defusedxml")
    assert functions.fromstring.__module__.startswith("defusedxml")
    require_defusedxml()
    monkeypatch.setattr(openpyxl, "DEFUSEDXML", False)
    with pytest.raises(StockpileError, match="defusedxml"):
        require_defusedxml()


def test_billion_laughs_is_rejected_quickly(client, template):
    bomb = _replace_part(template, "xl/worksheets/sheet1.xml", LAUGHS.encode())  # the Settings sheet
    with Measured() as m:
        response = client.post("/v1/allocations/xlsx", files={"file": ("lol.xlsx", bomb, XLSX)})
    assert response.status_code == 422
    assert response.json()["problems"][0]["code"] == "unsafe_xml"
    assert m.seconds < 5 and m.peak < 50_000_000
    # The second line: openpyxl on its own refuses the entities (defusedxml), also quickly.
    with Measured() as m, pytest.raises(ValueError) as caught:
        openpyxl.load_workbook(io.BytesIO(bomb))
    assert isinstance(caught.value.__cause__, DefusedXmlException)  # openpyxl wraps defusedxml's refusal
    assert m.seconds < 5 and m.peak < 50_000_000


def _zip_bomb(template: bytes, megabytes: int) -> bytes:
    out = io.BytesIO(template)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as z, z.open("xl/media/zeros.bin", "w") as f:
        block = b"\0" * 1_000_000
        for _ in range(megabytes):
            f.write(block)
    return out.getvalue()


def test_zip_bomb_is_rejected_with_bounded_memory(client, template):
    bomb = _zip_bomb(template, 300)  # 300 MB of zeros in a few hundred KB
    assert len(bomb) < 1_000_000
    with Measured() as m:
        response = client.post("/v1/allocations/xlsx", files={"file": ("bomb.xlsx", bomb, XLSX)})
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "payload_too_large"
    assert m.seconds < 10 and m.peak < 30_000_000


def test_the_unzipped_cap_is_on_the_sum_of_all_parts(template):
    out = io.BytesIO(template)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as z:
        for i in range(3):
            z.writestr(f"xl/media/part{i}.bin", b"\0" * 1_000_000)
    data = out.getvalue()
    with pytest.raises(StockpileError) as caught:
        read_workbook(io.BytesIO(data), Limits(max_unzipped_bytes=2_500_000))
    assert caught.value.status_code == 413
    assert read_workbook(io.BytesIO(data), Limits(max_unzipped_bytes=3_500_000)).budget == 1e9


def test_too_many_zip_entries(template):
    out = io.BytesIO(template)
    with zipfile.ZipFile(out, "a") as z:
        for i in range(300):
            z.writestr(f"xl/extra/{i}.txt", b"")
    with pytest.raises(InvalidRequest) as caught:
        read_workbook(io.BytesIO(out.getvalue()), Limits())
    assert caught.value.problems[0].code == "too_many_entries"


def test_upload_cap_from_content_length():
    client = capped_client(max_upload_bytes=50_000)
    response = client.post("/v1/allocations/xlsx", files={"file": ("big.xlsx", b"x" * 200_000, XLSX)})
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_upload_cap_on_a_stream_without_length_reads_no_further_than_the_cap():
    app = create_app(Settings(max_upload_bytes=1_000_000), NoSolves())
    chunk, sent, sent_max = b"x" * 65_536, 0, 2_000  # up to 131 MB offered
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.xlsx"\r\n\r\n'
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        sent += 1
        if sent > sent_max:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": head if sent == 1 else chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/allocations/xlsx",
        "raw_path": b"/v1/allocations/xlsx",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"multipart/form-data; boundary=b"), (b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    tracemalloc.start()
    anyio.run(app, scope, receive, send)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert messages[0]["status"] == 413
    assert sent <= 1_000_000 // 65_536 + 4  # stopped right after the cap
    assert peak < 20_000_000


def test_row_cap(template):
    client = capped_client(max_sheet_rows=10)
    response = client.post("/v1/allocations/xlsx", files={"file": ("rows.xlsx", template, XLSX)})
    assert response.status_code == 422
    problems = {p["path"]: p["code"] for p in response.json()["problems"]}
    assert problems == {"Suppliers": "too_many_rows"}


@pytest.mark.parametrize("trigger", FORMULA_TRIGGERS)
def test_csv_text_escapes_every_trigger_and_round_trips(trigger):
    text = trigger + "cmd|' /C calc'!A0"
    assert csv_text(text) == "'" + text
    assert csv_unescape(csv_text(text)) == text
    assert csv_text("Rio Tinto") == "Rio Tinto"


def _evil_request() -> dict[str, Any]:
    request = {**SMALL, "suppliers": [dict(s) for s in SMALL["suppliers"]]}
    request["suppliers"][0]["name"] = EVIL
    request["suppliers"][0]["unit_price"] = 20000  # cheap: it is bought, below the market price
    request["suppliers"][1]["name"] = "@SUM(1+1)"
    return request


def test_formula_injection_csv(client):
    response = client.post("/v1/allocations", json=_evil_request(), headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    names = {r["supplier_id"]: r["supplier"] for r in rows}
    assert names["a"] == "'" + EVIL
    assert names.get("b", "'@SUM(1+1)") == "'@SUM(1+1)"
    premium = float(next(r for r in rows if r["supplier_id"] == "a")["premium_vs_market"])
    assert premium < 0  # negative numbers are numbers, not escaped text


def _formula_parts(data: bytes) -> list[str]:
    z = zipfile.ZipFile(io.BytesIO(data))
    return [n for n in z.namelist() if n.startswith("xl/worksheets/") and b"<f>" in z.read(n)]


def test_formula_injection_xlsx(client):
    from models import AllocationRequest

    book = template_bytes(AllocationRequest.model_validate(_evil_request()))
    assert _formula_parts(book) == []
    response = client.post("/v1/allocations/xlsx", files={"file": ("evil.xlsx", book, XLSX)})
    assert response.status_code == 200, response.text
    assert _formula_parts(response.content) == []
    wb = load(response.content)
    cell = next(c for row in wb["Allocation"].iter_rows() for c in row if c.value == EVIL)
    assert cell.data_type == "s"
    inputs = next(c for row in wb["Suppliers"].iter_rows() for c in row if c.value == EVIL)
    assert inputs.data_type == "s"


def test_csv_reader_takes_back_escaped_names():
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["id", "name", "mineral", "country", "capacity", "unit_price"])
    writer.writerow(["a", csv_text(EVIL), "cobalt", "AU", 15, 35000])
    assert "'=HYPERLINK" in buf.getvalue()
    request = read_csv_request(b"id,target\ncobalt,20\n", buf.getvalue().encode(), None, {"budget": "1e6"}, 100)
    assert request.suppliers[0].name == EVIL


def test_allocation_csv_has_one_header_row_in_a_stable_order():
    from models import AllocationResult

    result = AllocationResult.model_validate(
        {
            "status": "optimal",
            "objective": "max_coverage",
            "total_spend": 0,
            "budget": 1,
            "budget_remaining": 1,
            "solve_seconds": 0,
            "model": {"variables": 0, "binaries": 0, "integers": 0, "constraints": 0},
            "allocations": [],
            "minerals": [],
            "diagnostics": [],
        }
    )
    assert allocation_csv(result) == (
        "supplier_id,supplier,mineral,country,quantity,goods_cost,tariff_cost,fixed_cost,spend,"
        "average_unit_price,premium_vs_market\r\n"
    )
