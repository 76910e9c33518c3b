"""The planner's web page at ``/``, its static files, and reading a workbook into a request.

The page is one HTML document (a Jinja2 template) and small ES modules under
``service/webpage/static`` (no build step, no CDN: the chart library is vendored). It talks to
the JSON API like any client and asks for an API key when the server answers 401. Which
endpoints the server offers (their paths) and the built-in examples' names come with the
document, so that the first view waits for no API call. The page and its files are served
without a key (they hold nothing but what the package ships); every API call it makes needs
one when keys are configured.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.templating import Jinja2Templates
from starlette.datastructures import UploadFile

from models import AllocationRequest
from service import examples
from service.errors import NotFound, error_answers
from service.files import XLSX, Caps, _form, _missing
from service.spreadsheet import read_workbook

ASSETS = Path(__file__).with_name("webpage")
STATIC_PREFIX = "/page/static/"
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".md": "text/markdown", ".svg": "image/svg+xml"}

# The multipart body, described here (the route reads the stream itself, so FastAPI cannot infer it).
WORKBOOK_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "the workbook (.xlsx)"}
                    },
                    "required": ["file"],
                },
                "encoding": {"file": {"contentType": XLSX}},
            }
        },
    }
}

templates = Jinja2Templates(directory=ASSETS / "templates")
router = APIRouter()


def _static_files() -> dict[str, Path]:
    """Every file under ``static``, by its path relative to it: only these are served (no path walking)."""
    root = ASSETS / "static"
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


STATIC_FILES = _static_files()


def api_paths(app: FastAPI) -> list[str]:
    """The paths of the API's operations (those its OpenAPI description lists): the page shows the views
    whose endpoints are among them."""
    paths = set()
    for context in iter_route_contexts(app.routes):  # as FastAPI's OpenAPI description walks them
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema and context.path_format:
            paths.add(context.path_format)
    return sorted(paths)


@router.get("/", include_in_schema=False, response_class=HTMLResponse)
async def page(request: Request) -> HTMLResponse:
    app = request.app
    listed = [{"name": e.name, "title": e.title} for e in examples.summaries()]
    context = {"static": STATIC_PREFIX, "version": app.version, "api_paths": api_paths(app), "examples": listed}
    return templates.TemplateResponse(request, "index.html", context)


@router.get(STATIC_PREFIX + "{name:path}", include_in_schema=False)
async def static_file(name: str) -> FileResponse:
    path = STATIC_FILES.get(name)
    if path is None:
        raise NotFound(f"No page file named '{name}'.")
    media_type = MEDIA_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    # Revalidated on every load (ETag), so that a new version of the service is picked up at once.
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache"})


@router.post(
    "/v1/requests/xlsx",
    tags=["spreadsheets"],
    summary="Read a filled-in workbook into a JSON request, without solving it",
    response_model=AllocationRequest,
    response_model_exclude_none=True,
    responses=error_answers(
        {
            413: "The file is larger than the upload cap, or expands beyond it",
            422: "Every problem in the workbook, each with its sheet and cell",
        }
    ),
    openapi_extra=WORKBOOK_FORM,
)
async def read_request_xlsx(request: Request, limits: Caps) -> Any:
    form = await _form(request, limits, max_files=1)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _missing("file", "file")
        return await anyio.to_thread.run_sync(read_workbook, upload.file, limits)
    finally:
        await form.close()
