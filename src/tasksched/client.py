"""A small client for the REST API (used by ``tasksched tasks …`` and by Python programs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx


class ApiError(Exception):
    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        detail = problem.get("detail") or problem.get("title") or "request failed"
        super().__init__(f"HTTP {status}: {detail}")


class Client:
    """``Client("http://127.0.0.1:8000", key)``; every method returns the decoded JSON."""

    def __init__(self, base_url: str, api_key: str | None, *, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text}
            raise ApiError(response.status_code, body)
        return response.json() if response.content else None

    def list_tasks(self, **params: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "GET", "/api/tasks", params={k: v for k, v in params.items() if v is not None}
        )
        return result

    def create_task(self, spec: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/api/tasks", json=spec)
        return result

    def get_task(self, task_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/api/tasks/{task_id}")
        return result

    def run_task(
        self, task_id: int, input: dict[str, Any] | None = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Queue a run now; ``input`` (``{"args": …, "kwargs": …}``, ``{"body": …}`` or
        ``{"env": …}``) is applied to the task's action for this run. With ``idempotency_key``, a
        repeat returns the run the first call queued (the server answers 200 instead of 202)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else None
        body = {"input": input} if input is not None else None
        result: dict[str, Any] = self._call("POST", f"/api/tasks/{task_id}/run", json=body, headers=headers)
        return result

    def run_batch(self, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Queue many runs in one request and one transaction: each item is
        ``{"task_id": 1, "input": {…}, "idempotency_key": "…"}`` (the last two optional), at most
        5,000. Returns ``{"runs": [{"index", "run_id", "task_id", "created"}], "created",
        "repeated"}``."""
        result: dict[str, Any] = self._call("POST", "/api/runs:batch", json={"runs": list(items)})
        return result

    def list_runs(self, **params: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "GET", "/api/runs", params={k: v for k, v in params.items() if v is not None}
        )
        return result

    def get_run(self, run_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/api/runs/{run_id}")
        return result
