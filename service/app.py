"""The FastAPI application: settings, gateway, routes, error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from service import analyses_routes, docs, files, openapi, page, stress_routes
from service.analyses import AnalysisRunner
from service.auth import ApiKeyMiddleware
from service.errors import install_error_handlers
from service.jobs import JobService
from service.jobs_routes import router as jobs_router
from service.limits import AdmissionMiddleware, BodyLimitMiddleware
from service.observability import Metrics, RequestLogMiddleware
from service.routes import router
from service.scenario_routes import router as scenario_router
from service.scenarios import ScenarioService
from service.settings import Settings, get_settings
from service.solving import PoolGateway, SolveGateway
from service.storage import Database

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
    database = Database(settings.database())
    analyses = AnalysisRunner(settings)
    jobs = JobService(database, gateway, settings, analyses)
    scenarios = ScenarioService(database, gateway, jobs, settings.value_cache_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(database.upgrade)  # the schema before the first request
        await gateway.start()
        await jobs.start()
        yield
        await jobs.stop()
        await analyses.close()
        await gateway.close()
        database.close()

    app = FastAPI(
        title="Stockpile",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Short stable operation ids (the route's name) and /docs, /redoc served from the package.
        generate_unique_id_function=openapi.operation_id,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.gateway = gateway
    app.state.analyses = analyses
    app.state.database = database
    app.state.jobs = jobs
    app.state.scenarios = scenarios
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
    app.include_router(analyses_routes.router)
    app.include_router(jobs_router)
    app.include_router(scenario_router)
    app.include_router(stress_routes.router)
    app.include_router(docs.router)
    app.include_router(page.router)  # the web page at /
    openapi.install(app)
    return app
