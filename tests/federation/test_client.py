"""Tests for federation.client: the address guard, size caps and AS2 fetching.

Most tests talk to a real HTTP/1.1 responder on 127.0.0.1 started inside the test's event
loop; the guard's decisions about public hosts use an injected resolver and a MockTransport.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass, field

import httpx
import pytest

from federation.addresses import IPAddress, Resolver, is_public_address
from federation.client import (
    AS2_ACCEPT,
    create_client,
    fetch_object,
    is_as2_content_type,
    read_limited,
    wants_as2,
)
from federation.errors import (
    BlockedAddress,
    FetchError,
    FetchStatusError,
    InvalidDocument,
    ResponseTooLarge,
)

USER_AGENT = "Myna/0.1.0 (+https://myna.test/)"


# --- a minimal HTTP/1.1 responder -------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_length: int | None = -1  # -1: the real length; None: chunked, no Content-Length
    hang: bool = False  # never answer (timeout tests)


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]


Handler = Callable[[Seen], Reply]


class LoopbackServer:
    """Serves ``routes`` (path -> Reply or handler) on 127.0.0.1 with ``Connection: close``."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply | Handler] = {}
        self.requests: list[Seen] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def json_reply(self, path: str, document: object, content_type: str) -> None:
        body = json.dumps(document).encode()
        self.routes[path] = Reply(body=body, headers=[("Content-Type", content_type)])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            seen = Seen(method, target, headers)
            self.requests.append(seen)
            route = self.routes.get(target, Reply(status=404, body=b"not found"))
            reply = route if isinstance(route, Reply) else route(seen)
            if reply.hang:
                await asyncio.sleep(5)
                return
            out = [f"HTTP/1.1 {reply.status} X", "Connection: close"]
            out += [f"{name}: {value}" for name, value in reply.headers]
            if reply.content_length is None:
                out.append("Transfer-Encoding: chunked")
                payload = b"".join(
                    f"{len(reply.body[i : i + 4096]):x}\r\n".encode()
                    + reply.body[i : i + 4096]
                    + b"\r\n"
                    for i in range(0, len(reply.body), 4096)
                )
                payload += b"0\r\n\r\n"
            else:
                length = len(reply.body) if reply.content_length == -1 else reply.content_length
                out.append(f"Content-Length: {length}")
                payload = reply.body
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + payload)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    srv = LoopbackServer()
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with create_client(user_agent=USER_AGENT, allow_private=True) as c:
        yield c


class CountingAuth(httpx.Auth):
    """Stamps each request with a fresh counter, like a signer with a fresh Date."""

    def __init__(self) -> None:
        self.calls = 0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.calls += 1
        request.headers["X-Test-Auth"] = str(self.calls)
        yield request


def actor(url: str) -> dict[str, object]:
    return {"@context": "https://www.w3.org/ns/activitystreams", "id": url, "type": "Person"}


# --- address classification --------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("93.184.216.34", True),
        ("1.1.1.1", True),
        ("127.0.0.1", False),
        ("127.255.255.254", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("172.31.255.255", False),
        ("172.32.0.1", True),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # CGNAT
        ("100.127.255.255", False),
        ("100.128.0.1", True),
        ("0.0.0.0", False),
        ("0.1.2.3", False),
        ("192.0.0.8", False),
        ("192.0.2.1", False),
        ("198.18.0.1", False),
        ("198.51.100.7", False),
        ("203.0.113.9", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("2606:4700:4700::1111", True),
        ("2001:4860:4860::8888", True),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("fd12:3456:789a::1", False),
        ("fec0::1", False),
        ("ff02::1", False),
        ("ff0e::1", False),  # global-scope multicast is still multicast
        ("2001:db8::1", False),
        ("2001::1", False),  # Teredo
        ("100::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("::ffff:10.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:8.8.8.8", True),
        ("::127.0.0.1", False),  # deprecated IPv4-compatible
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("64:ff9b:1::1", False),
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", False),  # 6to4 of 192.168.1.1
        ("2002:808:808::1", True),  # 6to4 of 8.8.8.8
    ],
)
def test_is_public_address_classifies(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


# --- the guard ----------------------------------------------------------------------------


async def test_guard_refuses_loopback_literal_without_connecting(server: LoopbackServer) -> None:
    server.json_reply("/doc", actor(server.url("/doc")), "application/activity+json")
    async with create_client(user_agent=USER_AGENT) as guarded:
        with pytest.raises(BlockedAddress):
            await fetch_object(guarded, server.url("/doc"))
    assert server.connections == 0


async def test_guard_refuses_hostname_resolving_to_loopback(server: LoopbackServer) -> None:
    async with create_client(user_agent=USER_AGENT) as guarded:
        with pytest.raises(BlockedAddress):
            await guarded.get(server.url("/doc", host="localhost"))
    assert server.connections == 0


async def test_guard_allows_loopback_when_allow_private(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.json_reply("/doc", actor(server.url("/doc")), "application/activity+json")
    document = await fetch_object(client, server.url("/doc"))
    assert document["id"] == server.url("/doc")
    assert server.connections == 1
    assert server.requests[0].headers["user-agent"] == USER_AGENT
    assert server.requests[0].headers["accept"] == AS2_ACCEPT


def fake_resolver(table: dict[str, list[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(a) for a in table[host]]

    return resolve


async def test_guard_checks_every_resolved_address() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200)

    async with create_client(
        user_agent=USER_AGENT,
        transport=httpx.MockTransport(handler),
        resolver=fake_resolver({"mixed.test": ["93.184.216.34", "10.0.0.5"]}),
    ) as guarded:
        with pytest.raises(BlockedAddress):
            await guarded.get("https://mixed.test/")
    assert seen == []


async def test_guard_lets_public_host_through() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=request.headers["user-agent"])

    async with create_client(
        user_agent=USER_AGENT,
        transport=httpx.MockTransport(handler),
        resolver=fake_resolver({"public.test": ["93.184.216.34", "2606:2800::1"]}),
    ) as guarded:
        response = await guarded.get("https://public.test/")
    assert response.text == USER_AGENT


async def test_guard_checks_each_redirect_hop() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return httpx.Response(302, headers={"Location": "http://internal.test/admin"})

    resolver = fake_resolver({"public.test": ["93.184.216.34"], "internal.test": ["127.0.0.1"]})
    async with create_client(
        user_agent=USER_AGENT,
        transport=httpx.MockTransport(handler),
        resolver=resolver,
    ) as guarded:
        with pytest.raises(BlockedAddress):
            await guarded.get("https://public.test/", follow_redirects=True)
    assert seen == ["public.test"]


@pytest.mark.parametrize("url", ["ftp://public.test/x", "file:///etc/passwd", "ws://public.test/"])
async def test_guard_refuses_other_schemes(url: str) -> None:
    async with create_client(
        user_agent=USER_AGENT,
        allow_private=True,
        transport=httpx.MockTransport(lambda request: httpx.Response(200)),
    ) as guarded:
        with pytest.raises(BlockedAddress):
            await guarded.get(url)


async def test_unresolvable_host_is_fetch_error_not_blocked() -> None:
    async with create_client(
        user_agent=USER_AGENT,
        transport=httpx.MockTransport(lambda request: httpx.Response(200)),
        resolver=fake_resolver({}),
    ) as guarded:
        with pytest.raises(FetchError) as caught:
            await fetch_object(guarded, "https://nowhere.test/users/a")
    assert not isinstance(caught.value, BlockedAddress)


async def test_create_client_settings() -> None:
    async with create_client(user_agent=USER_AGENT, timeout=12.0, connect_timeout=4.0) as c:
        assert c.follow_redirects is False
        assert c.max_redirects == 3
        assert c.timeout.connect == 4.0
        assert c.timeout.read == 12.0
        assert c.headers["user-agent"] == USER_AGENT


async def test_client_stores_no_cookies() -> None:
    cookies_seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        cookies_seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"Set-Cookie": "session=abc; Path=/"})

    async with create_client(
        user_agent=USER_AGENT, allow_private=True, transport=httpx.MockTransport(handler)
    ) as c:
        await c.get("https://peer.test/a")
        await c.get("https://peer.test/b")
    assert cookies_seen == [None, None]


# --- size caps ----------------------------------------------------------------------------


async def test_read_limited_refuses_declared_length_before_reading(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    # The header promises 10,000 bytes but only 10 arrive: reading would fail with a
    # protocol error, so ResponseTooLarge proves the header alone decided.
    server.routes["/big"] = Reply(body=b"x" * 10, content_length=10_000)
    response = await client.send(client.build_request("GET", server.url("/big")), stream=True)
    with pytest.raises(ResponseTooLarge):
        await read_limited(response, 1000)
    assert response.is_closed


async def test_read_limited_refuses_chunked_body_over_limit(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.routes["/big"] = Reply(body=b"x" * 50_000, content_length=None)
    response = await client.send(client.build_request("GET", server.url("/big")), stream=True)
    assert "content-length" not in response.headers
    with pytest.raises(ResponseTooLarge):
        await read_limited(response, 20_000)
    assert response.is_closed


async def test_read_limited_accepts_body_at_limit(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.routes["/exact"] = Reply(body=b"y" * 5000, content_length=None)
    response = await client.send(client.build_request("GET", server.url("/exact")), stream=True)
    assert await read_limited(response, 5000) == b"y" * 5000


@pytest.mark.parametrize("content_length", [-1, None])
async def test_fetch_object_enforces_limit(
    server: LoopbackServer, client: httpx.AsyncClient, content_length: int | None
) -> None:
    document = actor(server.url("/doc")) | {"summary": "z" * 5000}
    server.routes["/doc"] = Reply(
        body=json.dumps(document).encode(),
        headers=[("Content-Type", "application/activity+json")],
        content_length=content_length,
    )
    with pytest.raises(ResponseTooLarge):
        await fetch_object(client, server.url("/doc"), limit=1000)
    assert (await fetch_object(client, server.url("/doc"), limit=10_000))["id"] == document["id"]


# --- redirects ----------------------------------------------------------------------------


def redirect_chain(server: LoopbackServer, hops: int) -> str:
    """Install /r1 -> /r2 -> ... -> /doc and return the first URL."""
    server.json_reply("/doc", actor(server.url("/doc")), "application/activity+json")
    for i in range(1, hops + 1):
        target = "/doc" if i == hops else f"/r{i + 1}"
        server.routes[f"/r{i}"] = Reply(status=301, headers=[("Location", target)])
    return server.url("/r1")


async def test_fetch_object_follows_redirects_up_to_cap(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    document = await fetch_object(client, redirect_chain(server, 3))
    assert document["id"] == server.url("/doc")
    assert [r.target for r in server.requests] == ["/r1", "/r2", "/r3", "/doc"]


async def test_fetch_object_refuses_redirects_over_cap(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    with pytest.raises(FetchError, match="redirected more than 3 times"):
        await fetch_object(client, redirect_chain(server, 4))
    assert len(server.requests) == 4


async def test_fetch_object_refuses_cross_host_redirect(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    other = server.url("/doc", host="localhost")
    server.routes["/start"] = Reply(status=302, headers=[("Location", other)])
    server.json_reply("/doc", actor(other), "application/activity+json")
    with pytest.raises(InvalidDocument):
        await fetch_object(client, server.url("/start"))
    assert [r.target for r in server.requests] == ["/start"]


async def test_fetch_object_requires_id_of_final_url_after_redirect(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.routes["/start"] = Reply(status=302, headers=[("Location", "/doc")])
    server.json_reply("/doc", actor(server.url("/start")), "application/activity+json")
    with pytest.raises(InvalidDocument):
        await fetch_object(client, server.url("/start"))


async def test_fetch_object_applies_auth_on_every_hop(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    auth = CountingAuth()
    await fetch_object(client, redirect_chain(server, 2), auth=auth)
    assert auth.calls == 3
    assert [r.headers.get("x-test-auth") for r in server.requests] == ["1", "2", "3"]


# --- documents ----------------------------------------------------------------------------


async def test_fetch_object_drops_fragment_of_key_id(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.json_reply("/users/a", actor(server.url("/users/a")), "application/activity+json")
    document = await fetch_object(client, server.url("/users/a#main-key"))
    assert document["id"] == server.url("/users/a")
    assert server.requests[0].target == "/users/a"


async def test_fetch_object_rejects_id_mismatch(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.json_reply(
        "/users/a", actor("https://elsewhere.test/users/a"), "application/activity+json"
    )
    with pytest.raises(InvalidDocument):
        await fetch_object(client, server.url("/users/a"))


async def test_fetch_object_rejects_missing_id(
    server: LoopbackServer, client: httpx.AsyncClient
) -> None:
    server.json_reply("/users/a", {"type": "Person"}, "application/activity+json")
    with pytest.raises(InvalidDocument):
        await fetch_object(client, server.url("/users/a"))


@pytest.mark.parametrize(
    "content_type",
    [
        "application/activity+json",
        "application/activity+json; charset=utf-8",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
        "application/ld+json",
        "application/json",
        "Application/JSON; charset=UTF-8",
    ],
)
async def test_fetch_object_tolerates_json_content_types(
    server: LoopbackServer, client: httpx.AsyncClient, content_type: str
) -> None:
    server.json_reply("/doc", actor(server.url("/doc")), content_type)
    assert (await fetch_object(client, server.url("/doc")))["type"] == "Person"


@pytest.mark.parametrize("content_type", ["text/html", "text/plain", None])
async def test_fetch_object_rejects_other_content_types(
    server: LoopbackServer, client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = [] if content_type is None else [("Content-Type", content_type)]
    body = json.dumps(actor(server.url("/doc"))).encode()
    server.routes["/doc"] = Reply(body=body, headers=headers)
    with pytest.raises(InvalidDocument):
        await fetch_object(client, server.url("/doc"))


@pytest.mark.parametrize("body", [b"[1, 2]", b"not json", b"\xff\xfe", b"[" * 100_000, b""])
async def test_fetch_object_rejects_non_object_bodies(
    server: LoopbackServer, client: httpx.AsyncClient, body: bytes
) -> None:
    server.routes["/doc"] = Reply(
        body=body, headers=[("Content-Type", "application/activity+json")]
    )
    with pytest.raises(InvalidDocument):
        await fetch_object(client, server.url("/doc"))


@pytest.mark.parametrize("status", [404, 410, 401, 500])
async def test_fetch_object_reports_status(
    server: LoopbackServer, client: httpx.AsyncClient, status: int
) -> None:
    server.routes["/gone"] = Reply(status=status, body=b"{}")
    with pytest.raises(FetchStatusError) as caught:
        await fetch_object(client, server.url("/gone"))
    assert caught.value.status == status
    assert caught.value.url == server.url("/gone")


async def test_fetch_object_wraps_connection_refused(client: httpx.AsyncClient) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(FetchError, match="connection failed"):
        await fetch_object(client, f"http://127.0.0.1:{port}/doc")


async def test_fetch_object_wraps_timeout(server: LoopbackServer) -> None:
    server.routes["/slow"] = Reply(hang=True)
    async with create_client(user_agent=USER_AGENT, allow_private=True, timeout=0.2) as c:
        with pytest.raises(FetchError, match="timeout"):
            await fetch_object(c, server.url("/slow"))


async def test_fetch_object_rejects_invalid_url(client: httpx.AsyncClient) -> None:
    with pytest.raises(FetchError):
        await fetch_object(client, "http://[::1/broken")


# --- content negotiation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("application/activity+json", True),
        ("application/activity+json; charset=utf-8", True),
        ('application/ld+json; profile="https://www.w3.org/ns/activitystreams"', True),
        ('application/ld+json;profile="https://www.w3.org/ns/activitystreams"', True),
        (
            'application/ld+json; profile="https://example.com/x https://www.w3.org/ns/activitystreams"',
            True,
        ),
        ("application/ld+json", False),
        ('application/ld+json; profile="https://example.com/other"', False),
        ("application/json", False),
        ("text/html", False),
        ("", False),
    ],
)
def test_is_as2_content_type(value: str, expected: bool) -> None:
    assert is_as2_content_type(value) is expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/activity+json", True),
        ("application/activity+json, application/ld+json", True),  # Mastodon's fetch
        (
            'application/ld+json; profile="https://www.w3.org/ns/activitystreams", '
            "application/activity+json, text/html;q=0.1",  # Mastodon's search
            True,
        ),
        ("application/ld+json", True),
        (AS2_ACCEPT, True),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),  # browser
        ("text/html, application/activity+json;q=0.5", False),
        ("application/activity+json;q=0", False),
        ("application/activity+json;q=nonsense", False),
        ("*/*", False),
        ("application/json", False),
        ("", False),
    ],
)
def test_wants_as2(accept: str, expected: bool) -> None:
    assert wants_as2(accept) is expected
