"""Bare Starlette apps for the inbox ceilings: POST -> 202, and POST + one RSA verify -> 202.

Run by the benchmark with ``uvicorn bench.echo_app:app`` (or ``:verify_app``) under the same
uvicorn defaults as ``myna serve`` (uvloop and httptools when installed, access log off).
"""

from __future__ import annotations

import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_PUBLIC = _KEY.public_key()
_DATA = b"(request-target): post /inbox\nhost: 127.0.0.1\ndate: x\ndigest: y"
_SIGNATURE = _KEY.sign(_DATA, padding.PKCS1v15(), hashes.SHA256())


async def _ok(request: Request) -> Response:
    return Response("ok")


async def _echo(request: Request) -> Response:
    await request.body()
    return Response(b'{"status":"stored"}', status_code=202, media_type="application/json")


async def _verify(request: Request) -> Response:
    body = await request.body()
    json.loads(body)
    _PUBLIC.verify(_SIGNATURE, _DATA, padding.PKCS1v15(), hashes.SHA256())
    return Response(b'{"status":"stored"}', status_code=202, media_type="application/json")


app = Starlette(routes=[Route("/", _ok), Route("/{path:path}", _echo, methods=["POST"])])
verify_app = Starlette(routes=[Route("/", _ok), Route("/{path:path}", _verify, methods=["POST"])])
