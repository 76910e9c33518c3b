"""HTTP routes for spreadsheets: the XLSX template, XLSX and CSV uploads. Thin: the work is in ``service.spreadsheet``.

Uploads are read from the raw request stream with a byte counter, so a body
larger than ``max_upload_bytes`` (plus a little room for the form's own
fields) is refused with 413 as soon as the cap is passed, whatever its
Content-Length says; the multipart parser spools file parts to disk past
1 MB, so memory stays bounded while it reads.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from models import AllocationResult, Problem
from service.errors import InvalidRequest, PayloadTooLarge
from service.limits import capped_receive
from service.routes import Solve
from service.settings import Settings
from service.spreadsheet import Limits, limits_from, read_workbook, template_bytes
from service.spreadsheet import layout as L
from service.spreadsheet.csvio import csv_response, read_csv_request, wants_csv
from service.spreadsheet.result import result_bytes

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORM_OVERHEAD = 64 * 1024  # multipart boundaries, part headers and the small form fields

router = APIRouter(tags=["spreadsheets"])


def get_limits(request: Request) -> Limits:
    settings: Settings = request.app.state.settings
    return limits_from(settings)


Caps = Annotated[Limits, Depends(get_limits)]


@lru_cache(maxsize=1)
def _template() -> bytes:
    return template_bytes()


def _too_large(limits: Limits) -> PayloadTooLarge:
    return PayloadTooLarge(f"The upload is larger than {limits.max_upload_bytes:,} bytes.")


async def _form(request: Request, limits: Limits, max_files: int) -> FormData:
    """The multipart form, read with a byte cap on the whole body."""
    cap = limits.max_upload_bytes + FORM_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _too_large(limits)
    counted = capped_receive(request.receive, cap, _too_large(limits))
    form = await Request(request.scope, counted).form(max_files=max_files, max_fields=20, max_part_size=64 * 1024)
    total = sum(v.size or 0 for _, v in form.multi_items() if isinstance(v, UploadFile))
    if total > limits.max_upload_bytes:
        raise _too_large(limits)
    return form


def _missing(name: str, what: str) -> InvalidRequest:
    return InvalidRequest([Problem(path=name, message=f"the form has no {what} '{name}'", code="missing")])


async def _file_bytes(form: FormData, name: str, required: bool = True) -> bytes | None:
    value = form.get(name)
    if isinstance(value, UploadFile):
        return await value.read()
    if isinstance(value, str) and value.strip():
        return value.encode("utf-8")
    if required:
        raise _missing(name, "file")
    return None


def _multipart_body(fields: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """OpenAPI description of a multipart body (the route reads the stream itself, so FastAPI cannot infer it)."""
    schema = {"type": "object", "properties": fields, "required": required}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


_FILE = {"type": "string", "format": "binary"}


@router.get(
    "/v1/templates/allocation.xlsx",
    summary="The input workbook template, pre-filled with the dla-2025 example",
    response_class=Response,
    responses={200: {"content": {XLSX: {"schema": _FILE}}, "description": "The template workbook"}},
)
async def get_template() -> Response:
    return Response(
        _template(),
        media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="allocation.xlsx"'},
    )


@router.post(
    "/v1/allocations/xlsx",
    summary="Solve a filled-in template; get back the result workbook",
    response_class=Response,
    responses={
        200: {
            "content": {XLSX: {"schema": _FILE}},
            "description": "Inputs plus Allocation, Mineral summary, Diagnostics and Charts sheets",
        },
        413: {"description": "The file is larger than the upload cap, or expands beyond the unzipped cap"},
        422: {"description": "Every problem in the workbook, each with its sheet and cell (e.g. Suppliers!E7)"},
    },
    openapi_extra=_multipart_body({"file": {**_FILE, "description": "the workbook (.xlsx)"}}, ["file"]),
)
async def create_allocation_xlsx(request: Request, solve: Solve, limits: Caps) -> Response:
    form = await _form(request, limits, max_files=1)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _missing("file", "file")
        allocation_request = await anyio.to_thread.run_sync(read_workbook, upload.file, limits)
        result = await solve(allocation_request)
        body = await anyio.to_thread.run_sync(result_bytes, allocation_request, result, upload.file)
    finally:
        await form.close()
    return Response(
        body,
        media_type=XLSX,
        headers={
            "Content-Disposition": 'attachment; filename="allocation-result.xlsx"',
            "X-Stockpile-Status": result.status.value,
        },
    )


@router.post(
    "/v1/allocations/csv",
    summary="Solve from CSV files (minerals, suppliers, optional policy) and settings form fields",
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "The result (JSON), or with `Accept: text/csv` the allocation table as CSV",
        },
        413: {"description": "The files are larger than the upload cap"},
        422: {"description": "Every problem, each with its file and cell (e.g. suppliers.csv!E7)"},
    },
    response_model=AllocationResult,
    openapi_extra=_multipart_body(
        {
            "minerals": {**_FILE, "description": "the Minerals table as CSV (same columns as the template's sheet)"},
            "suppliers": {**_FILE, "description": "the Suppliers table as CSV"},
            "policy": {**_FILE, "description": "the Policy table as CSV (optional)"},
            "budget": {"type": "number"},
            "objective": {"type": "string", "enum": list(L.OBJECTIVES)},
            "time_limit_s": {"type": "number"},
            "mip_gap": {"type": "number"},
        },
        ["minerals", "suppliers", "budget"],
    ),
)
async def create_allocation_csv(request: Request, solve: Solve, limits: Caps) -> Any:
    form = await _form(request, limits, max_files=3)
    try:
        minerals = await _file_bytes(form, "minerals")
        suppliers = await _file_bytes(form, "suppliers")
        policy = await _file_bytes(form, "policy", required=False)
        settings = {s.name: form.get(s.name) for s in L.SETTINGS_ROWS if isinstance(form.get(s.name), str)}
    finally:
        await form.close()
    allocation_request = await anyio.to_thread.run_sync(
        read_csv_request, minerals, suppliers, policy, settings, limits.max_rows
    )
    result = await solve(allocation_request)
    return csv_response(result) if wants_csv(request.headers.get("accept")) else result
