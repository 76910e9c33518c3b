"""The FastAPI application: settings, gateway, routes, error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import files
from service.auth import ApiKeyMiddleware
from service.errors import install_error_handlers
from service.limits import AdmissionMiddleware, BodyLimitMiddleware
from service.observability import Metrics, RequestLogMiddleware
from service.routes import router
from service.settings import Settings, get_settings
from service.solving import PoolGateway, SolveGateway

DESCRIPTION = """
Stockpile decides how a purchase budget is spent across critical minerals and
their suppliers: post a budget, minerals with targets, supplier offers and
policy; get back the allocation that covers the most of the targets (or the
cheapest one that covers all of them), every figure that explains it, and,
when nothing fits, which requirement cannot be met and by how much.
"""


def create_app(settings: Settings | None = None, gateway: SolveGateway | None = None) -> FastAPI:
    settings = settings or get_settings()
    gateway = gateway or PoolGateway(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        yield
        await gateway.close()

    app = FastAPI(title="Stockpile", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.gateway = gateway
    app.state.metrics = metrics = Metrics(gateway)
    install_error_handlers(app)
    # Outermost last: log and count every request, check its key, refuse a solve there is no room for,
    # then limit the body's size.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(AdmissionMiddleware)
    app.add_middleware(ApiKeyMiddleware, keys=[k.get_secret_value().encode() for k in settings.api_keys])
    app.add_middleware(RequestLogMiddleware, metrics=metrics)
    app.include_router(router)
    app.include_router(files.router)
    return app
