"""The employee page: GET / and its static .js/.css from the package, under a strict Content-Security-Policy."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, HTTPException, Response

CSP = ("default-src 'self'; img-src 'self' blob:; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'")
ASSETS = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8",
          "docs.js": "text/javascript; charset=utf-8"}
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _read(name: str) -> bytes:
    return resources.files("scanner.service").joinpath("static", name).read_bytes()


def mount_page(app: FastAPI) -> None:
    """`/` and `/static/{app.js,app.css}`: nothing inline, nothing from another origin."""

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return Response(_read("index.html"), media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    @app.get("/static/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(404, "not found")
        return Response(_read(name), media_type=ASSETS[name], headers=SECURITY_HEADERS)
