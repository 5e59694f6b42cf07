"""The API docs (``/docs``: Swagger UI, ``/redoc``: ReDoc) served from this package's files.

FastAPI's own pages load their scripts and styles from a CDN, so on an office machine without
internet ``/docs`` is a blank page. These are the same pages with every file served from
``api/board/static/``: Swagger UI 5 (``swagger-ui/``, swagger-ui-dist, Apache-2.0) and ReDoc 2
(``redoc/``, MIT), each with its licence beside it. ``docs/service.md`` says how to update them.
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse

from api.board.router import STATIC
from api.errors import not_found

ASSETS_URL: Final = "/docs/assets"
# Only these files are served, so a path can never reach outside the folders.
ASSETS: Final = {
    "swagger-ui-bundle.js": ("swagger-ui", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger-ui", "text/css; charset=utf-8"),
    "favicon-32x32.png": ("swagger-ui", "image/png"),
    "redoc.standalone.js": ("redoc", "text/javascript; charset=utf-8"),
}

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="carerota API",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
        oauth2_redirect_url="/docs/oauth2-redirect",
    )


@router.get("/docs/oauth2-redirect")
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
def redoc() -> HTMLResponse:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="carerota API",
        redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
        with_google_fonts=False,
    )


@router.get(ASSETS_URL + "/{name}")
def asset(name: str) -> FileResponse:
    found = ASSETS.get(name)
    if found is None:
        raise not_found("docs file", name)
    folder, media_type = found
    # The files change only with the package: let the browser keep them for a day.
    return FileResponse(
        STATIC / folder / name, media_type=media_type, headers={"Cache-Control": "max-age=86400"}
    )
