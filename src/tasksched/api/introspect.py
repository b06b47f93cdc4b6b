"""The app's API routes as data: for the OpenAPI additions and for 405's ``Allow`` header."""

from __future__ import annotations

from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.routing import APIRoute


def api_routes(app: FastAPI) -> list[Any]:
    """The app's documented API routes, each with its ``dependant``, ``methods``, ``path_format``
    and ``path_regex``.

    Recent FastAPI keeps included routers as such and lists their routes through
    ``iter_route_contexts`` (as its own ``get_openapi`` does); older versions had them in ``app.routes``.
    """
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    candidates: list[Any] = list(iterate(app.routes) if iterate else app.routes)
    routes: list[Any] = []
    for route in candidates:
        original = getattr(route, "original_route", route)
        if isinstance(original, APIRoute) and route.include_in_schema:
            routes.append(route)
    return routes


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some API route answers at ``path``.

    Each method of a path is a route of its own, and Starlette's 405 names only the first route
    that matched the path; a client (and the OpenAPI document) expects all of them.
    """
    methods: set[str] = set()
    for route in api_routes(app):
        if route.path_regex.match(path):
            methods.update(route.methods)
    return sorted(methods)
