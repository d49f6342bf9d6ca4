"""`myna init`, `migrate`, `serve` and `worker`."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import signal
import sys

from argon2 import PasswordHasher

from app.clock import clock_for
from app.commands.base import Result
from app.config import Settings
from app.keys import ensure_keys
from app.logs import configure_logging
from app.runtime import open_runtime
from app.services.profile_updates import announce_profile_change
from app.store import actors as actor_store


async def cmd_init(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    from app.db.migrate import upgrade_to_head_async
    from app.media import write_default_images

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    created_keys = ensure_keys(settings.keys_dir)
    await upgrade_to_head_async(settings.database_url)
    images = write_default_images(settings.media_dir, settings.display_name)
    password = None
    async with open_runtime(settings) as rt:
        async with rt.writes.begin() as session:
            owner = await actor_store.ensure_local_actor(session, settings.username, rt.clock())
            if owner.password_hash is None:
                password = secrets.token_urlsafe(18)
                owner.password_hash = PasswordHasher().hash(password)
    result = {
        "actor": settings.actor_url,
        "handle": f"@{settings.username}@{settings.domain}",
        "data_dir": str(settings.data_dir),
        "created_keys": created_keys,
        "created_images": images,
        "password": password,
    }
    lines = [f"Myna is ready: {result['handle']} ({settings.actor_url})"]
    if created_keys:
        lines.append(f"Created keys in {settings.keys_dir}: {', '.join(created_keys)}")
    if password:
        lines.append(f"Owner password (shown once, keep it safe): {password}")
    return result, "\n".join(lines)


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    from app.db.migrate import upgrade_to_head_async

    await upgrade_to_head_async(settings.database_url)
    return {"database": "up to date"}, "Database is up to date."


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from app.keys import load_keys
    from app.main import create_app

    load_keys(settings.keys_dir)  # fail early, with one line, when `myna init` never ran
    configure_logging(settings.log_level)
    config = uvicorn.Config(
        create_app(settings, clock=clock_for(settings), announce_profile=True),
        host=settings.host,
        port=settings.port,
        lifespan="on",
        access_log=False,
        log_level="warning",
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
    )
    print(
        f"Myna serves {settings.actor_url} on http://{settings.host}:{settings.port}",
        file=sys.stderr,
    )
    uvicorn.Server(config).run()
    return 0


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> tuple[Result, str]:
    from app.jobs.runner import run_workers

    configure_logging(settings.log_level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_runtime(settings, clock=clock_for(settings)) as rt:
        await announce_profile_change(rt)
        await run_workers(rt, stop)
    return {"worker": "stopped"}, "Worker stopped."
