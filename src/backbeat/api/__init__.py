"""backbeat's HTTP API: `create_app(settings)` builds the FastAPI application."""

from backbeat.api.app import create_app

__all__ = ["create_app"]
