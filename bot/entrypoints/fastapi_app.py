"""The FastAPI application both HTTP processes start from: ``serve`` and a worker's health port.

Why one place: neither may expose interactive docs or an OpenAPI schema (they would publish every
route and model of the webhook surface to anyone who can reach the port), and both report
Signoff's version; a third HTTP process gets the same by calling this.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from bot import __version__

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def signoff_api(title: str, lifespan: Lifespan | None = None) -> FastAPI:
    """A FastAPI app titled ``title`` with no docs, ReDoc or OpenAPI routes."""
    return FastAPI(
        title=title,
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
