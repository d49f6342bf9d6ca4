"""A local HTTP sink for fan-out tests and benchmarks: many inboxes, one loopback server.

``Sink`` runs ``python -m tests.support.sink`` (uvicorn on 127.0.0.1, uvloop and httptools
when installed) in its own process, so it outlives a Myna process killed under it. Every
POST to any path is an inbox delivery: the sink waits ``delay`` seconds, records the
activity ``id`` of the JSON body under the path and whether the request carried a
signature, and answers ``status`` (202). GET serves the JSON ``documents`` given at start
(path -> AS2 document, e.g. a remote actor whose key Myna fetches), else 404.

Two read endpoints, not recorded as deliveries:

- ``GET /_sink/summary`` -> ``{"total", "paths", "unsigned", "first", "last"}`` (times are
  ``time.monotonic()`` of the sink process, so only differences mean anything);
- ``GET /_sink/received`` -> ``{path: [activity id, ...]}`` in arrival order.

    with Sink(delay=0.02) as sink:
        ... deliver to f"{sink.base_url}/inbox/1" ...
        assert sink.received()["/inbox/1"] == [activity_id]

Errors: ``SinkError`` when the process does not come up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

HOST = "127.0.0.1"
AS2 = "application/activity+json"

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class SinkError(Exception):
    """The sink process did not start or stopped answering."""


# ------------------------------------------------------------------ server side --
class SinkApp:
    """The ASGI application of the sink process (plain ASGI: no framework overhead)."""

    def __init__(self, *, delay: float, status: int, documents: Mapping[str, Any]) -> None:
        self.delay = delay
        self.status = status
        self.documents = {path: json.dumps(doc).encode() for path, doc in documents.items()}
        self.received: dict[str, list[str | None]] = {}
        self.total = 0
        self.unsigned = 0
        self.first: float | None = None
        self.last: float | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if scope["method"] == "POST":
            body = await _read_body(receive)
            await self._deliver(path, body, scope["headers"], send)
        elif path == "/_sink/summary":
            summary = {
                "total": self.total,
                "paths": len(self.received),
                "unsigned": self.unsigned,
                "first": self.first,
                "last": self.last,
            }
            await _answer(send, 200, json.dumps(summary).encode(), "application/json")
        elif path == "/_sink/received":
            await _answer(send, 200, json.dumps(self.received).encode(), "application/json")
        elif path in self.documents:
            await _answer(send, 200, self.documents[path], AS2)
        else:
            await _answer(send, 404, b'{"error":"not found"}', "application/json")

    async def _deliver(
        self, path: str, body: bytes, headers: list[tuple[bytes, bytes]], send: Send
    ) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        try:
            doc = json.loads(body)
            activity_id = doc.get("id") if isinstance(doc, dict) else None
        except ValueError:
            activity_id = None
        names = {name.lower() for name, _ in headers}
        if b"signature" not in names:
            self.unsigned += 1
        # Recorded just before answering: a request the sender saw answered was recorded.
        self.received.setdefault(path, []).append(activity_id)
        self.total += 1
        now = time.monotonic()
        self.first = now if self.first is None else self.first
        self.last = now
        await _answer(send, self.status, b"", None)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes, content_type: str | None) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if content_type:
        headers.append((b"content-type", content_type.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve(port: int, delay: float, status: int, documents_path: str | None) -> None:
    """Run the sink on 127.0.0.1:``port`` until SIGTERM/SIGINT."""
    import importlib.util

    import uvicorn

    documents = json.loads(Path(documents_path).read_text()) if documents_path else {}
    fast = importlib.util.find_spec("uvloop") and importlib.util.find_spec("httptools")
    uvicorn.run(
        SinkApp(delay=delay, status=status, documents=documents),
        host=HOST,
        port=port,
        loop="uvloop" if fast else "asyncio",
        http="httptools" if fast else "h11",
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=4096,
    )


# ------------------------------------------------------------------ client side --
class Sink:
    """Runs the sink in a subprocess; a context manager. ``base_url`` is its origin."""

    def __init__(
        self,
        port: int | None = None,
        *,
        delay: float = 0.0,
        status: int = 202,
        documents: Mapping[str, Any] | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        from tests.support.myna_proc import free_port

        self.port = port if port is not None else free_port()
        self.delay = delay
        self.status = status
        self.documents = dict(documents or {})
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._client = httpx.Client(timeout=30.0, trust_env=False)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self) -> Sink:
        self._tmp = tempfile.TemporaryDirectory(prefix="sink-")
        args = [sys.executable, "-m", "tests.support.sink", "--port", str(self.port)]
        args += ["--delay", str(self.delay), "--status", str(self.status)]
        if self.documents:
            doc_path = Path(self._tmp.name) / "documents.json"
            doc_path.write_text(json.dumps(self.documents))
            args += ["--documents", str(doc_path)]
        self._log = Path(self._tmp.name) / "sink.log"
        root = Path(__file__).resolve().parents[2]
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(
                args, cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env={**os.environ, "PYTHONPATH": str(root)},
            )  # fmt: skip
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise SinkError(f"sink exited with {self._proc.returncode}: {self.log}")
            try:
                self.summary()
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise SinkError(f"sink did not answer within {self.startup_timeout}s: {self.log}")

    @property
    def log(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def summary(self) -> dict[str, Any]:
        response = self._client.get(f"{self.base_url}/_sink/summary")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def received(self) -> dict[str, list[str | None]]:
        """Every recorded delivery: path -> activity ids in arrival order."""
        response = self._client.get(f"{self.base_url}/_sink/received")
        response.raise_for_status()
        result: dict[str, list[str | None]] = response.json()
        return result

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self._client.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local inbox sink for tests and benchmarks.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--status", type=int, default=202)
    parser.add_argument("--documents", help="JSON file: path -> document to serve on GET")
    args = parser.parse_args(argv)
    serve(args.port, args.delay, args.status, args.documents)


if __name__ == "__main__":
    main()
