"""The application factory. Each feature package adds its routes in ``views.py``."""

from __future__ import annotations

import threading

from fastapi import FastAPI

from swipeguard.api import errors
from swipeguard.api.csrf import CsrfGuard
from swipeguard.auth.deps import COOKIE
from swipeguard.auth.throttle import SignInThrottle
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.discovery import feature_modules


def create_app(settings: Settings, db: Database) -> FastAPI:
    app = FastAPI(title="swipeguard", version="0.1.0",
                  max_body_size=settings.server.max_body_bytes)
    app.state.settings = settings
    app.state.db = db
    # Set when the server is shutting down, so that long-lived streams end at once.
    app.state.stopping = threading.Event()
    app.state.sign_in_throttle = SignInThrottle()
    errors.install(app)
    app.add_middleware(CsrfGuard, cookie=COOKIE)
    for module in feature_modules("views"):
        app.include_router(module.router)
    return app
