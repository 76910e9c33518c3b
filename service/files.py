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

from analyses import compare
from models import AllocationRequest, AllocationResult, Problem, SolveOptions
from models.analyses import ComparisonRequest
from service.errors import InvalidRequest, PayloadTooLarge, error_answers
from service.limits import capped_receive
from service.routes import SOLVE_ERRORS, Solve
from service.settings import Settings
from service.spreadsheet import Limits, limits_from, template_bytes
from service.spreadsheet import layout as L
from service.spreadsheet.csvio import csv_response, read_csv_request, wants_csv
from service.spreadsheet.result import XLSX_MEDIA_TYPE as XLSX
from service.spreadsheet.result import result_bytes
from service.spreadsheet.xlsx_reader import read_book

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


def _multipart_body(fields: dict[str, Any], required: list[str], files: dict[str, str]) -> dict[str, Any]:
    """OpenAPI description of a multipart body (the route reads the stream itself, so FastAPI cannot infer it).

    ``files`` gives each file part's media type (the part's ``encoding``), so that clients send it as such.
    """
    schema = {"type": "object", "properties": fields, "required": required}
    encoding = {name: {"contentType": media_type} for name, media_type in files.items()}
    content = {"multipart/form-data": {"schema": schema, "encoding": encoding}}
    return {"requestBody": {"required": True, "content": content}}


_CSV = {"type": "string", "format": "binary", "contentMediaType": "text/csv"}
_WORKBOOK = {"type": "string", "format": "binary", "contentMediaType": XLSX}


def _setting_schema(name: str) -> dict[str, Any]:
    """A settings form field's schema: the bounds of the request field it sets, as the request's schema states them."""
    model = SolveOptions if name in SolveOptions.model_fields else AllocationRequest
    schema = model.model_json_schema()["properties"][name]
    keep = ("type", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "description")
    return {k: v for k, v in schema.items() if k in keep}


@router.get(
    "/v1/templates/allocation.xlsx",
    summary="The input workbook template, pre-filled with the dla-2025 example",
    response_class=Response,
    responses={200: {"content": {XLSX: {"schema": _WORKBOOK}}, "description": "The template workbook"}},
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
            "content": {XLSX: {"schema": _WORKBOOK}},
            "description": "Inputs plus Allocation, Mineral summary, Diagnostics and Charts sheets; with "
            "scenarios on a Scenarios sheet, also Scenario summary, Scenario allocations and Scenario minerals",
        },
        **error_answers(
            {
                413: "The file is larger than the upload cap, or expands beyond the unzipped cap",
                422: "Every problem in the workbook, each with its sheet and cell (e.g. Suppliers!E7)",
            }
        ),
        **SOLVE_ERRORS,
    },
    openapi_extra=_multipart_body(
        {"file": {**_WORKBOOK, "description": "the workbook (.xlsx)"}}, ["file"], {"file": XLSX}
    ),
)
async def allocate_xlsx(request: Request, solve: Solve, limits: Caps) -> Response:
    form = await _form(request, limits, max_files=1)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _missing("file", "file")
        book = await anyio.to_thread.run_sync(read_book, upload.file, limits)
        allocation_request = book.request
        cap = request.app.state.settings.max_variants
        if len(book.variants) > cap:
            message = f"the sheet has {len(book.variants)} scenarios; at most {cap} are compared at once"
            raise InvalidRequest([Problem(path=L.SCENARIOS, message=message, code="too_many_variants")])
        result = await solve(allocation_request)
        comparison = None
        if book.variants:  # a Scenarios sheet: its variants compared with the request, in sheets of their own
            compared = ComparisonRequest.model_construct(request=allocation_request, variants=book.variants)
            comparison = (compared, await request.app.state.analyses.run(compare, compared))
        body = await anyio.to_thread.run_sync(result_bytes, allocation_request, result, upload.file, comparison)
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
            "content": {"text/csv": {"schema": _CSV}},
            "description": "The result (JSON), or with `Accept: text/csv` the allocation table as CSV",
        },
        **error_answers(
            {
                413: "The files are larger than the upload cap",
                422: "Every problem, each with its file and cell (e.g. suppliers.csv!E7)",
            }
        ),
        **SOLVE_ERRORS,
    },
    response_model=AllocationResult,
    openapi_extra=_multipart_body(
        {
            "minerals": {**_CSV, "description": "the Minerals table as CSV (same columns as the template's sheet)"},
            "suppliers": {**_CSV, "description": "the Suppliers table as CSV"},
            "policy": {**_CSV, "description": "the Policy table as CSV (optional)"},
            "budget": _setting_schema("budget"),
            "objective": {"type": "string", "enum": list(L.OBJECTIVES)},
            "time_limit_s": _setting_schema("time_limit_s"),
            "mip_gap": _setting_schema("mip_gap"),
        },
        ["minerals", "suppliers", "budget"],
        {"minerals": "text/csv", "suppliers": "text/csv", "policy": "text/csv"},
    ),
)
async def allocate_csv(request: Request, solve: Solve, limits: Caps) -> Any:
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
