"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), with their assets served from the package.

The pages load nothing from the internet, so they work on a machine without it. The assets are
npm's ``swagger-ui-dist`` and ``redoc`` distributions, copied into ``service/static/vendor/`` (see
the README there for versions, licences and how to update them). Only the files listed in
``ASSETS`` are served, each with its media type.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from service.errors import NotFound

ASSET_PATH = "/docs/assets"
# name served under ASSET_PATH -> (file under service/static/vendor, media type)
ASSETS = {
    "swagger-ui-bundle.js": ("swagger-ui/swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger-ui/swagger-ui.css", "text/css; charset=utf-8"),
    "favicon.png": ("swagger-ui/favicon-32x32.png", "image/png"),
    "redoc.standalone.js": ("redoc/redoc.standalone.js", "text/javascript; charset=utf-8"),
}

# The pages may load from the service only. ReDoc's menu shows a logo from its makers' site (an <img>
# that hides itself when it fails to load): the browser does not even try to fetch it.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)

router = APIRouter(include_in_schema=False)


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page


@lru_cache(maxsize=len(ASSETS))
def asset_bytes(name: str) -> bytes:
    """The bytes of a served asset (KeyError if ``name`` is not one)."""
    path, _ = ASSETS[name]
    return resources.files("service").joinpath("static", "vendor", *path.split("/")).read_bytes()


def _openapi_url(request: Request) -> str:
    return request.scope.get("root_path", "") + request.app.openapi_url


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "") + ASSET_PATH
    return _local_only(
        get_swagger_ui_html(
            openapi_url=_openapi_url(request),
            title=f"{request.app.title} - Swagger UI",
            swagger_js_url=f"{root}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/swagger-ui.css",
            swagger_favicon_url=f"{root}/favicon.png",
            # no badge fetched from the public validator
            swagger_ui_parameters={"validatorUrl": None},
        )
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "") + ASSET_PATH
    return _local_only(
        get_redoc_html(
            openapi_url=_openapi_url(request),
            title=f"{request.app.title} - ReDoc",
            redoc_js_url=f"{root}/redoc.standalone.js",
            redoc_favicon_url=f"{root}/favicon.png",
            with_google_fonts=False,
        )
    )


@router.get(ASSET_PATH + "/{name}")
async def docs_asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound(f"No documentation asset named '{name}'.")
    return Response(asset_bytes(name), media_type=ASSETS[name][1], headers={"Cache-Control": "public, max-age=86400"})
