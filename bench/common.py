"""Shared pieces of the benchmarks: processes, RSS, crypto rates, report lines."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Resident set size of process ``pid`` in MiB (from /proc; 0 when unavailable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (0 when unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
            try:
                if client.get(url).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


# `--client httpx-aiohttp`: Myna processes get bench/patches/sitecustomize.py, which puts
# aiohttp's transport under Myna's httpx client (an experiment; see that file).
CLIENT = {"name": "httpx"}


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYNA_", "OPENAI_"))}
    env["PYTHONPATH"] = str(ROOT)
    if CLIENT["name"] != "httpx":
        env["PYTHONPATH"] = f"{ROOT / 'bench' / 'patches'}{os.pathsep}{ROOT}"
        env["MYNA_BENCH_CLIENT"] = CLIENT["name"]
    env.update(extra)
    return env


class Proc:
    """A child process with its log in a temporary file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.log_path = cwd / f"{Path(args[-1]).name}-{time.monotonic_ns()}.log"
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, limit: int = 3000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-limit:]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


class MynaServer:
    """`myna init` then `myna serve` (SQLite in a temporary data directory) on loopback."""

    def __init__(self, workdir: Path, *, extra_env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.data_dir = workdir / "myna-data"
        self.env = _child_env(
            {
                "MYNA_DATA_DIR": str(self.data_dir),
                "MYNA_DOMAIN": f"{HOST}:{self.port}",
                "MYNA_HOST": HOST,
                "MYNA_PORT": str(self.port),
                "MYNA_ALLOW_PRIVATE_NETWORK": "1",
                "MYNA_LOG_LEVEL": "WARNING",
                **(extra_env or {}),
            }
        )
        self.proc: Proc | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "myna.db"

    def settings_env(self) -> dict[str, str]:
        return {k: v for k, v in self.env.items() if k.startswith("MYNA_")}

    def init(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "app", "init", "--json"],
            cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"myna init failed: {result.stderr[-3000:]}")

    def start(self) -> MynaServer:
        self.init()
        self.proc = Proc([sys.executable, "-m", "app", "serve"], self.env, self.workdir)
        try:
            wait_http(f"{self.base_url}/healthz", proc=self.proc.popen)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{self.proc.log_tail()}") from exc
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_tail(self) -> str:
        return self.proc.log_tail() if self.proc is not None else ""

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


def start_echo(workdir: Path, verify: bool) -> tuple[Proc, int]:
    """Start the bare Starlette + uvicorn echo server (bench/echo_app.py); return it, port."""
    port = free_port()
    app = "bench.echo_app:verify_app" if verify else "bench.echo_app:app"
    args = [sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port)]
    args += ["--log-level", "warning", "--no-access-log", "--lifespan", "off"]
    proc = Proc(args, _child_env({}), workdir)
    wait_http(f"http://{HOST}:{port}/", proc=proc.popen)
    return proc, port


def temp_workdir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="myna-bench-")


# ----------------------------------------------------------------- crypto rates --
_KEY: rsa.RSAPrivateKey | None = None


def bench_key() -> rsa.RSAPrivateKey:
    global _KEY
    if _KEY is None:
        _KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEY


def _rate(op: Callable[[], Any], seconds: float, threads: int = 1) -> float:
    done = [0] * threads
    stop = time.perf_counter() + seconds

    def loop(slot: int) -> None:
        count = 0
        while time.perf_counter() < stop:
            for _ in range(20):
                op()
            count += 20
        done[slot] = count

    start = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done) / (time.perf_counter() - start)


def rsa_sign_rate(seconds: float = 1.0, threads: int = 1) -> float:
    """RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second (cryptography)."""
    key, data = bench_key(), b"x" * 300
    return _rate(lambda: key.sign(data, padding.PKCS1v15(), hashes.SHA256()), seconds, threads)


def rsa_verify_rate(seconds: float = 1.0) -> float:
    """RSA-2048 verifications per second with a cached public key object."""
    key, data = bench_key(), b"x" * 300
    signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    public = key.public_key()
    return _rate(
        lambda: public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256()), seconds
    )


# ----------------------------------------------------------------------- report --
@dataclass
class Report:
    """Figures of one benchmark, printed as ``name  value unit  (ratio of ceiling)``."""

    title: str
    lines: list[str] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)

    def figure(self, name: str, value: float, unit: str, *, of: float | None = None) -> None:
        self.figures[name] = value
        ratio = f"   {value / of:6.1%} of ceiling" if of else ""
        line = f"  {name:<58} {value:>10,.1f} {unit:<8}{ratio}"
        self.lines.append(line)
        print(line, flush=True)

    def note(self, text: str) -> None:
        self.lines.append(f"  {text}")
        print(f"  {text}", flush=True)

    def header(self) -> None:
        print(f"\n== {self.title} ==", flush=True)


def dump_json(path: Path, reports: Iterable[Report]) -> None:
    path.write_text(json.dumps({r.title: r.figures for r in reports}, indent=2))
