"""`/docs`: Swagger UI 5 served from the installed `swagger-ui-bundle-v2` wheel, nothing from a CDN.

FastAPI's own get_swagger_ui_html() starts Swagger UI from an inline <script>, which a Content-Security-
Policy of 'self' forbids; this page loads the bundle and a small start script (static/docs.js) from this
service instead. Only three files of the bundle are served (never its demo index.html, which points at
the public petstore). Without the wheel, /docs answers 404 and /openapi.json still works.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI, HTTPException, Response

from .page import SECURITY_HEADERS

# Swagger UI's stylesheet draws its icons from data: URLs; nothing else may load from anywhere but here
DOCS_CSP = ("default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'")
ASSET_TYPES = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8",
               "favicon-32x32.png": "image/png"}
ASSET_PREFIX = "/docs/assets/"
HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy": DOCS_CSP, "Cache-Control": "public, max-age=3600"}


def bundle_folder() -> Path | None:
    """The Swagger UI files of the installed swagger-ui-bundle-v2 wheel, or None when it is not installed."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    folder = Path(swagger_ui_path)
    return folder if all((folder / name).is_file() for name in ASSET_TYPES) else None


def docs_page() -> bytes:
    return resources.files("scanner.service").joinpath("static", "docs.html").read_bytes()


def mount_docs(app: FastAPI) -> None:
    """GET /docs and GET /docs/assets/{swagger-ui-bundle.js, swagger-ui.css, favicon-32x32.png}."""

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        if bundle_folder() is None:
            raise HTTPException(404, "API docs need the swagger-ui-bundle-v2 package; /openapi.json is served")
        return Response(docs_page(), media_type="text/html; charset=utf-8", headers=HEADERS)

    @app.get(ASSET_PREFIX + "{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        folder = bundle_folder()
        if folder is None or name not in ASSET_TYPES:
            raise HTTPException(404, "not found")
        return Response((folder / name).read_bytes(), media_type=ASSET_TYPES[name], headers=HEADERS)
