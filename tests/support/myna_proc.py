"""Run a real Myna server process for flow and interop tests.

``MynaProcess`` runs ``python -m app init --json`` and then ``python -m app serve`` on
127.0.0.1 with its own data directory and port, waits for ``GET /healthz`` to answer 200,
offers the CLI (``cli`` / ``cli_json``) against the same settings, and stops the server
with SIGTERM (SIGKILL after a grace period), keeping its log for assertions and for
failure messages.

    with MynaProcess(tmp_path / "a", port=free_port()) as myna:
        myna.cli_json("followers")

``database_url(kind)`` gives ``None`` (SQLite in the data directory) for ``"sqlite"`` and a
fresh PostgreSQL database (from ``tests.support.databases``) for ``"postgresql"``;
``postgres_skip_reason()`` says why PostgreSQL cannot be used, or ``None``.

Errors: ``MynaProcessError`` (start-up failure, CLI failure), its subclass ``MynaCliError``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

HOST = "127.0.0.1"
#: Environment prefixes never inherited from the developer's shell, so a stray
#: ``MYNA_DATABASE_URL`` or ``OPENAI_API_KEY`` cannot change what a test runs against.
_SCRUBBED_PREFIXES = ("MYNA_", "OPENAI_")


class MynaProcessError(Exception):
    """The server could not be started, or a command against it failed."""


class MynaCliError(MynaProcessError):
    """A ``python -m app ...`` command exited non-zero or printed no JSON."""

    def __init__(self, message: str, result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(message)
        self.result = result


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


#: Database back ends the process-level tests run on.
DATABASE_KINDS = ("sqlite", "postgresql")


def postgres_skip_reason() -> str | None:
    """Return why the PostgreSQL variant cannot run here, or ``None`` if it can."""
    try:
        from tests.support import databases
    except ImportError as exc:
        return f"tests/support/databases.py is not available ({exc})"
    if not databases.postgres_available():
        return "no PostgreSQL server answers at MYNA_TEST_POSTGRES_URL"
    return None


@contextmanager
def database_url(kind: str) -> Iterator[str | None]:
    """Yield a ``MYNA_DATABASE_URL`` for ``kind``: ``None`` for SQLite, else a fresh database.

    The PostgreSQL database is dropped on exit. Raises ``ValueError`` for an unknown kind.
    """
    if kind == "sqlite":
        yield None
    elif kind == "postgresql":
        from tests.support.databases import fresh_postgres_url

        with fresh_postgres_url() as url:
            yield url
    else:
        raise ValueError(f"unknown database kind {kind!r}")


def _tail(text: str, limit: int = 6000) -> str:
    return text if len(text) <= limit else "...\n" + text[-limit:]


class MynaProcess:
    """One Myna server (``init`` + ``serve``) on loopback; a context manager.

    ``data_dir`` is created if missing; the process's working directory and logs live in
    a sibling directory ``<data_dir>-run`` so no ``.env`` is picked up.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        database_url: str | None = None,
        username: str = "myna",
        extra_env: Mapping[str, str] | None = None,
        *,
        startup_timeout: float = 20.0,
        stop_timeout: float = 10.0,
        cli_timeout: float = 120.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port if port is not None else free_port()
        self.database_url = database_url
        self.username = username
        self.extra_env = dict(extra_env or {})
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.cli_timeout = cli_timeout
        self.run_dir = self.data_dir.parent / f"{self.data_dir.name}-run"
        self.stdout_path = self.run_dir / "serve.stdout.log"
        self.stderr_path = self.run_dir / "serve.stderr.log"
        self.init_result: Any = None
        self.returncode: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # ----------------------------------------------------------- addresses --
    @property
    def domain(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.domain}"

    @property
    def actor_url(self) -> str:
        return f"{self.base_url}/users/{self.username}"

    @property
    def handle(self) -> str:
        """``username@host:port`` (no leading ``@``)."""
        return f"{self.username}@{self.domain}"

    @property
    def env(self) -> dict[str, str]:
        """The environment every process of this instance runs with."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
        env.update(
            {
                "MYNA_DATA_DIR": str(self.data_dir),
                "MYNA_DOMAIN": self.domain,
                "MYNA_HOST": HOST,
                "MYNA_PORT": str(self.port),
                "MYNA_ALLOW_PRIVATE_NETWORK": "1",
                "MYNA_USERNAME": self.username,
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.database_url is not None:
            env["MYNA_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    # ----------------------------------------------------------- lifecycle --
    def start(self) -> MynaProcess:
        """Run ``init``, start ``serve`` and wait for ``/healthz``; return self.

        Raises ``MynaProcessError`` (with the server's output) if it does not come up.
        """
        if self._proc is not None:
            raise MynaProcessError("already started")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.init_result = self.cli_json("init")
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "app", "serve"],
                cwd=self.run_dir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        last: str = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                code = self._proc.poll()
                if code is not None:
                    raise MynaProcessError(
                        f"myna serve exited with {code} before /healthz answered\n{self.describe()}"
                    )
                try:
                    response = client.get(f"{self.base_url}/healthz")
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    last = repr(exc)
                time.sleep(0.2)
        raise MynaProcessError(
            f"myna serve did not answer /healthz with 200 within {self.startup_timeout}s "
            f"(last: {last})\n{self.describe()}"
        )

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> int | None:
        """SIGTERM the server, SIGKILL it after ``stop_timeout``; return its exit code."""
        proc = self._proc
        if proc is None:
            return self.returncode
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                # The server ignored SIGTERM; kill its whole session (it was started in its
                # own one, so this only reaches processes it spawned).
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=self.stop_timeout)
        self.returncode = proc.returncode
        self._proc = None
        return self.returncode

    def __enter__(self) -> MynaProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- logs --
    @property
    def stdout_text(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    @property
    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    @property
    def log(self) -> str:
        """Everything the server printed so far (stderr, then stdout)."""
        return self.stderr_text + self.stdout_text

    def describe(self) -> str:
        """A block of text for assertion messages: where it runs and its recent output."""
        return (
            f"--- myna {self.base_url} (data {self.data_dir}, db {self.database_url or 'sqlite'})"
            f"\n--- serve stderr (tail):\n{_tail(self.stderr_text)}"
            f"\n--- serve stdout (tail):\n{_tail(self.stdout_text, 2000)}"
        )

    # ----------------------------------------------------------------- CLI --
    def cli(
        self, *args: str, check: bool = False, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python -m app ARGS --json`` with this instance's settings."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [sys.executable, "-m", "app", *args, "--json"],
            cwd=self.run_dir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout if timeout is not None else self.cli_timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise MynaCliError(
                self._cli_failure("exited with " + str(result.returncode), result), result
            )
        return result

    def cli_json(self, *args: str, timeout: float | None = None) -> Any:
        """Run ``python -m app ARGS --json`` and return the parsed JSON document.

        Raises ``MynaCliError`` if the command fails or does not print JSON.
        """
        result = self.cli(*args, timeout=timeout)
        if result.returncode != 0:
            raise MynaCliError(
                self._cli_failure(f"exited with {result.returncode}", result), result
            )
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError as exc:
            raise MynaCliError(
                self._cli_failure(f"printed no JSON ({exc})", result), result
            ) from exc

    def _cli_failure(self, what: str, result: subprocess.CompletedProcess[str]) -> str:
        return (
            f"`python -m app {' '.join(result.args[3:])}` {what}\n"
            f"stdout: {_tail(result.stdout, 2000)}\nstderr: {_tail(result.stderr, 4000)}"
        )


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float = 15.0,
    interval: float = 0.3,
    message: str | Callable[[], str] = "condition not met",
) -> T:
    """Call ``probe`` until it returns something truthy; return that value.

    Raises ``AssertionError`` with ``message`` (called if callable) after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout}s: {text}")
        time.sleep(interval)
