"""The FastAPI application: settings, gateway, routes, error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.errors import install_error_handlers
from service.routes import router
from service.settings import Settings, get_settings
from service.solving import InProcessGateway, SolveGateway

DESCRIPTION = """
Stockpile decides how a purchase budget is spent across critical minerals and
their suppliers: post a budget, minerals with targets, supplier offers and
policy; get back the allocation that covers the most of the targets (or the
cheapest one that covers all of them), every figure that explains it, and,
when nothing fits, which requirement cannot be met and by how much.
"""


def create_app(settings: Settings | None = None, gateway: SolveGateway | None = None) -> FastAPI:
    settings = settings or get_settings()
    gateway = gateway or InProcessGateway(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        yield
        await gateway.close()

    app = FastAPI(title="Stockpile", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.gateway = gateway
    install_error_handlers(app)
    app.include_router(router)
    return app
