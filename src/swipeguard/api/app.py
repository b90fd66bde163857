"""The application factory. Each feature package adds its routes in ``views.py``."""

from __future__ import annotations

from fastapi import FastAPI

from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.discovery import feature_modules


def create_app(settings: Settings, db: Database) -> FastAPI:
    app = FastAPI(title="swipeguard", version="0.1.0")
    app.state.settings = settings
    app.state.db = db
    for module in feature_modules("views"):
        app.include_router(module.router)
    return app
