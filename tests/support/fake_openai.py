"""A small OpenAI-compatible HTTP server for tests, stdlib only (plus Pillow for images).

It listens on 127.0.0.1 on a random port in a background thread and answers the endpoints the
``openai`` SDK calls: ``/v1/models``, ``/v1/chat/completions`` (plain and ``stream: true`` SSE),
``/v1/responses`` (plain and streamed), ``/v1/images/generations`` (``b64_json`` or a ``url``
served back by the same server under ``/files/``) and ``/v1/moderations``.

Tests script its behaviour:

- ``queue_text(path, *texts)``: the next answers on ``path`` carry these texts;
- ``fail(path, status, times, headers, body)``: the next ``times`` requests get an error status;
- ``delay(path, seconds, times)``: the next requests sleep before answering (timeouts);
- ``malformed(path, times)``: the next requests get a 200 with a broken JSON body (a stream
  request gets one good chunk, then a broken one);
- ``disable(path)``: the path answers 404 forever (e.g. ``/v1/responses``, like llama.cpp);
- ``reject_json_schema``: structured-output requests (``json_schema``) answer
  ``json_schema_status`` (400, or 500 like llama-cpp-python);
- ``response_status``: the Responses API ``status`` (e.g. ``"incomplete"``);
- ``image_mode``: ``"b64_json"`` (default) or ``"url"``;
- ``image_url_origin``: image URLs name this origin instead of the server's own;
- ``finish_reason``: the chat ``finish_reason`` (e.g. ``"content_filter"``);
- ``flag_words``: moderation flags inputs containing one of these words.

Every request is recorded in ``requests`` (method, path, headers, parsed JSON body).
"""

from __future__ import annotations

import base64
import io
import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from PIL import Image

V1 = "/v1"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class _Fault:
    kind: Literal["status", "sleep", "malformed"]
    status: int = 500
    seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


def _norm(path: str) -> str:
    path = "/" + path.lstrip("/")
    return path if path.startswith(V1 + "/") or path.startswith("/files/") else V1 + path


def _words(value: Any) -> int:
    """A crude token count: the number of whitespace-separated words in every string inside."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_words(v) for v in value)
    if isinstance(value, dict):
        return sum(_words(v) for k, v in value.items() if k in ("content", "text", "input"))
    return 0


def _last_text(value: Any) -> str:
    """The last plain text found in a chat ``messages`` list or a Responses ``input``."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        for item in reversed(value):
            text = _last_text(item)
            if text:
                return text
        return ""
    if isinstance(value, dict):
        if value.get("type") in ("text", "input_text") and isinstance(value.get("text"), str):
            return str(value["text"])
        if "content" in value:
            return _last_text(value["content"])
    return ""


def _has_image(value: Any) -> bool:
    if isinstance(value, list):
        return any(_has_image(v) for v in value)
    if isinstance(value, dict):
        if value.get("type") in ("image_url", "input_image"):
            return True
        return _has_image(value.get("content"))
    return False


def png_bytes(width: int, height: int, color: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    """Return a solid-colour PNG of the given size."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


class FakeOpenAI:
    """The fake server. Use as a context manager or call ``start()`` / ``stop()``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, deque[_Fault]] = {}
        self._texts: dict[str, deque[str]] = {}
        self._disabled: set[str] = set()
        self._files: dict[str, bytes] = {}
        self._stop = threading.Event()
        self.requests: list[RecordedRequest] = []
        self.reject_json_schema = False
        self.json_schema_status = 400  # 500 is what llama-cpp-python answers
        self.response_status = "completed"  # the Responses API `status`, e.g. "incomplete"
        self.image_mode: Literal["b64_json", "url"] = "b64_json"
        self.image_url_origin: str | None = None  # serve image URLs as if from another host
        self.finish_reason = "stop"
        self.flag_words: set[str] = {"attack", "kill"}
        self.models = ["fake-model", "fake-model-2"]
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        server = _Server(("127.0.0.1", 0), _make_handler(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        return self.origin + V1

    # -- scripting --------------------------------------------------------------------------------

    def queue_text(self, path: str, *texts: str) -> None:
        with self._lock:
            self._texts.setdefault(_norm(path), deque()).extend(texts)

    def fail(
        self,
        path: str,
        status: int = 500,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        fault = _Fault("status", status=status, headers=dict(headers or {}), body=body)
        self._add_faults(path, fault, times)

    def delay(self, path: str, seconds: float, *, times: int = 1) -> None:
        self._add_faults(path, _Fault("sleep", seconds=seconds), times)

    def malformed(self, path: str, *, times: int = 1) -> None:
        self._add_faults(path, _Fault("malformed"), times)

    def disable(self, path: str) -> None:
        with self._lock:
            self._disabled.add(_norm(path))

    def _add_faults(self, path: str, fault: _Fault, times: int) -> None:
        with self._lock:
            self._faults.setdefault(_norm(path), deque()).extend([fault] * times)

    # -- inspection -------------------------------------------------------------------------------

    def requests_to(self, path: str) -> list[RecordedRequest]:
        wanted = _norm(path)
        with self._lock:
            return [r for r in self.requests if r.path == wanted]

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    # -- internals used by the handler -----------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_fault(self, path: str) -> _Fault | None:
        with self._lock:
            faults = self._faults.get(path)
            return faults.popleft() if faults else None

    def _next_text(self, path: str, default: str) -> str:
        with self._lock:
            texts = self._texts.get(path)
            return texts.popleft() if texts else default

    def _is_disabled(self, path: str) -> bool:
        with self._lock:
            return path in self._disabled

    def _store_file(self, data: bytes) -> str:
        with self._lock:
            name = f"/files/img-{len(self._files) + 1}.png"
            self._files[name] = data
        return name

    def _file(self, path: str) -> bytes | None:
        with self._lock:
            return self._files.get(path)


def _error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


def _make_handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "FakeOpenAI/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        # -- plumbing ------------------------------------------------------------------------------

        def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self._send_bytes(status, data, "application/json", headers)

        def _send_bytes(
            self, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _start_sse(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()

        def _sse(self, data: Any, event: str | None = None) -> None:
            payload = data if isinstance(data, str) else json.dumps(data)
            prefix = f"event: {event}\n" if event else ""
            self.wfile.write(f"{prefix}data: {payload}\n\n".encode())
            self.wfile.flush()

        def _handle(self, method: str) -> None:
            path = self.path.split("?", 1)[0]
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake._record(RecordedRequest(method, path, headers, body))

            if path.startswith("/files/"):
                data = fake._file(path)
                if data is None:
                    self._send_json(404, _error_body(404, "no such file"))
                else:
                    self._send_bytes(200, data, "image/png")
                return
            if fake._is_disabled(path):
                self._send_json(404, _error_body(404, f"{path} not found"))
                return
            fault = fake._next_fault(path)
            if fault is not None:
                if fault.kind == "status":
                    err = fault.body or _error_body(fault.status, f"injected {fault.status}")
                    self._send_json(fault.status, err, fault.headers)
                    return
                if fault.kind == "malformed" and isinstance(body, dict) and body.get("stream"):
                    # A stream that starts well and then breaks.
                    self._start_sse()
                    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1}
                    chunk["choices"] = [{"index": 0, "delta": {"content": "Half"}}]
                    self._sse(chunk)
                    self._sse('{"id": "broken", "choices": [')
                    return
                if fault.kind == "malformed":
                    self._send_bytes(200, b'{"id": "broken", "choices": [', "application/json")
                    return
                fake._stop.wait(fault.seconds)
            route = ROUTES.get((method, path))
            if route is None:
                self._send_json(404, _error_body(404, f"{method} {path} not found"))
                return
            route(self, body if isinstance(body, dict) else {})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        # -- endpoints -----------------------------------------------------------------------------

        def ep_models(self, body: dict[str, Any]) -> None:
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in fake.models
            ]
            self._send_json(200, {"object": "list", "data": data})

        def ep_chat(self, body: dict[str, Any]) -> None:
            messages = body.get("messages", [])
            fmt = body.get("response_format") or {}
            if fake.reject_json_schema and fmt.get("type") == "json_schema":
                status = fake.json_schema_status
                err = _error_body(status, "response_format json_schema not supported")
                self._send_json(status, err, {"retry-after-ms": "10"})
                return
            prompt = _last_text(messages)
            default = f"Fake reply about {prompt[:60]}"
            if _has_image(messages):
                default = "A blue square on a plain background."
            text = fake._next_text(V1 + "/chat/completions", default)
            model = body.get("model", "fake-model")
            n = int(body.get("n") or 1)
            usage = {
                "prompt_tokens": _words(messages),
                "completion_tokens": _words(text) * n,
                "total_tokens": _words(messages) + _words(text) * n,
            }
            if body.get("stream"):
                self._start_sse()
                base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1}
                base["model"] = model
                first = {"index": 0, "delta": {"role": "assistant", "content": ""}}
                self._sse({**base, "choices": [first]})
                for i, word in enumerate(text.split(" ")):
                    piece = word if i == 0 else " " + word
                    choice = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
                    self._sse({**base, "choices": [choice]})
                last = {"index": 0, "delta": {}, "finish_reason": "stop"}
                self._sse({**base, "choices": [last]})
                if (body.get("stream_options") or {}).get("include_usage"):
                    self._sse({**base, "choices": [], "usage": usage})
                self._sse("[DONE]")
                return
            choices = [
                {
                    "index": i,
                    "message": {
                        "role": "assistant",
                        "content": text if i == 0 else f"{text} ({i})",
                    },
                    "finish_reason": fake.finish_reason,
                }
                for i in range(n)
            ]
            self._send_json(
                200,
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": choices,
                    "usage": usage,
                },
            )

        def ep_responses(self, body: dict[str, Any]) -> None:
            fmt = (body.get("text") or {}).get("format") or {}
            if fake.reject_json_schema and fmt.get("type") == "json_schema":
                status = fake.json_schema_status
                err = _error_body(status, "text.format json_schema not supported")
                self._send_json(status, err, {"retry-after-ms": "10"})
                return
            source = body.get("input", "")
            default = f"Fake reply about {_last_text(source)[:60]}"
            if _has_image(source):
                default = "A blue square on a plain background."
            text = fake._next_text(V1 + "/responses", default)
            in_tokens = _words(source) + _words(body.get("instructions") or "")
            usage = {
                "input_tokens": in_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": _words(text),
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": in_tokens + _words(text),
            }
            message = {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
            response = {
                "id": "resp_1",
                "object": "response",
                "created_at": int(time.time()),
                "status": fake.response_status,
                "model": body.get("model", "fake-model"),
                "output": [message],
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
                "usage": usage,
            }
            if not body.get("stream"):
                self._send_json(200, response)
                return
            self._start_sse()
            seq = 0
            started = {**response, "status": "in_progress", "output": [], "usage": None}
            self._sse({"type": "response.created", "response": started, "sequence_number": seq})
            for i, word in enumerate(text.split(" ")):
                seq += 1
                delta = {
                    "type": "response.output_text.delta",
                    "item_id": "msg_1",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": word if i == 0 else " " + word,
                    "logprobs": [],
                    "sequence_number": seq,
                }
                self._sse(delta, event="response.output_text.delta")
            seq += 1
            done = {"type": "response.completed", "response": response, "sequence_number": seq}
            self._sse(done, event="response.completed")

        def ep_images(self, body: dict[str, Any]) -> None:
            size = str(body.get("size") or "256x256")
            try:
                width, height = (int(v) for v in size.split("x"))
            except ValueError:
                width, height = 256, 256
            data = png_bytes(width, height)
            if fake.image_mode == "url":
                origin = fake.image_url_origin or fake.origin
                item: dict[str, Any] = {"url": origin + fake._store_file(data)}
            else:
                item = {"b64_json": base64.b64encode(data).decode()}
            item["revised_prompt"] = f"{body.get('prompt', '')} (revised)"
            prompt_tokens = _words(body.get("prompt", ""))
            usage = {
                "input_tokens": prompt_tokens,
                "input_tokens_details": {"image_tokens": 0, "text_tokens": prompt_tokens},
                "output_tokens": 272,
                "total_tokens": prompt_tokens + 272,
            }
            response = {"created": int(time.time()), "data": [item], "usage": usage}
            self._send_json(200, response)

        def ep_moderations(self, body: dict[str, Any]) -> None:
            inputs = body.get("input", "")
            items = inputs if isinstance(inputs, list) else [inputs]
            texts = [i if isinstance(i, str) else str(i.get("text", "")) for i in items]
            # Omni moderation answers one result for a multimodal list, one per string otherwise.
            if any(isinstance(i, dict) for i in items):
                texts = [" ".join(texts)]
            results = []
            for text in texts:
                flagged = any(w in text.lower() for w in fake.flag_words)
                categories = {"violence": flagged, "harassment": False, "hate": False}
                scores = {"violence": 0.97 if flagged else 0.01, "harassment": 0.01, "hate": 0.0}
                applied = {k: ["text"] for k in categories}
                results.append(
                    {
                        "flagged": flagged,
                        "categories": categories,
                        "category_scores": scores,
                        "category_applied_input_types": applied,
                    }
                )
            model = body.get("model") or "omni-moderation-latest"
            self._send_json(200, {"id": "modr-1", "model": model, "results": results})

    ROUTES = {
        ("GET", V1 + "/models"): Handler.ep_models,
        ("POST", V1 + "/chat/completions"): Handler.ep_chat,
        ("POST", V1 + "/responses"): Handler.ep_responses,
        ("POST", V1 + "/images/generations"): Handler.ep_images,
        ("POST", V1 + "/moderations"): Handler.ep_moderations,
    }
    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (the timeout tests) leaves a broken pipe behind: not an error here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)
