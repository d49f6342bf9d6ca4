"""Settings: one frozen dataclass built from the environment (and ``./.env``) by a function.

Nothing is read at import time; ``load_settings`` raises ``ConfigError`` with a one-line
message naming the variable when a value is missing or wrong.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

VERSION = "0.1.0"

ACTOR_TYPES = ("Service", "Person", "Application", "Organization", "Group")
_USERNAME_RE = re.compile(r"^[a-z0-9_]+([.-]+[a-z0-9_]+)*$", re.IGNORECASE)
_DOMAIN_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$", re.IGNORECASE)


class ConfigError(Exception):
    """A setting is missing or has a wrong value; the message is one line for the user."""


@dataclass(frozen=True)
class Settings:
    domain: str = "127.0.0.1:8000"
    scheme: str = "http"
    username: str = "myna"
    data_dir: Path = Path("data")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    allow_private_network: bool = False
    authorized_fetch: bool = False
    actor_type: str = "Service"
    display_name: str = "Myna"
    summary: str = "AI-assisted posts, reviewed by a human."
    profile_fields: tuple[tuple[str, str], ...] = ()
    manually_approves_followers: bool = False
    discoverable: bool = True
    show_follows: bool = True
    indexable: bool = True
    openai_base_url: str | None = None
    openai_api_key: str | None = field(default=None, repr=False)
    text_model: str | None = None
    image_model: str | None = None
    moderation_model: str | None = None
    workers_in_process: bool = True
    log_level: str = "INFO"
    delivery_lease_seconds: int = 60
    follow_moves: bool = False
    operator: str | None = None
    daily_post_budget: int = 24
    daily_cost_budget: float = 1.0
    prices: tuple[tuple[str, float, float, float], ...] = ()  # (model, input/1M, output/1M, image)
    reply_to_mentions: bool = False
    replies_per_actor_per_hour: int = 2
    reply_auto_publish: bool = False  # publish replies to mentions without review
    clock_file: Path | None = None  # testing only: MYNA_CLOCK_FILE (see app/clock.py)

    @property
    def base_url(self) -> str:
        """The origin every id Myna mints starts with, e.g. ``https://example.com``."""
        return f"{self.scheme}://{self.domain}"

    @property
    def actor_url(self) -> str:
        return f"{self.base_url}/users/{self.username}"

    @property
    def user_agent(self) -> str:
        return f"Myna/{VERSION} (+{self.base_url}/)"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"


def read_dotenv(path: Path) -> dict[str, str]:
    """Return KEY=VALUE pairs of a ``.env`` file (``#`` comments, optional quotes); {} if absent."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 0 or 1, got {raw!r}")


def _is_loopback_domain(domain: str) -> bool:
    host = domain.rsplit(":", 1)[0] if domain.count(":") == 1 else domain
    host = host.strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _profile_fields(raw: str | None) -> tuple[tuple[str, str], ...]:
    if not raw:
        return ()
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(
            'MYNA_PROFILE_FIELDS must be a JSON object like {"Operator": "Ada"}'
        ) from exc
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        raise ConfigError("MYNA_PROFILE_FIELDS must be a JSON object of strings")
    return tuple(parsed.items())


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value


def _prices(raw: str | None) -> tuple[tuple[str, float, float, float], ...]:
    """``{"model": {"input": USD per 1M tokens, "output": ..., "image": USD per image}}``."""
    if not raw:
        return ()
    try:
        parsed = json.loads(raw)
        return tuple(
            (
                str(model),
                float(p.get("input", 0)),
                float(p.get("output", 0)),
                float(p.get("image", 0)),
            )
            for model, p in parsed.items()
        )
    except (ValueError, AttributeError, TypeError) as exc:
        raise ConfigError(
            'MYNA_PRICES must be JSON like {"gpt-5-mini": {"input": 0.25, "output": 2.0}}'
        ) from exc


def load_settings(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Build ``Settings`` from ``environ`` (default ``os.environ``) over ``cwd/.env``.

    Raises ``ConfigError`` with a one-line message for a missing or wrong value.
    """
    env: dict[str, str] = read_dotenv((cwd or Path.cwd()) / ".env")
    env.update(os.environ if environ is None else environ)

    domain = env.get("MYNA_DOMAIN", "127.0.0.1:8000").strip().lower()
    if not _DOMAIN_RE.match(domain):
        raise ConfigError(f"MYNA_DOMAIN must be host[:port] like example.com, got {domain!r}")
    scheme = env.get("MYNA_SCHEME") or ("http" if _is_loopback_domain(domain) else "https")
    if scheme not in ("http", "https"):
        raise ConfigError(f"MYNA_SCHEME must be http or https, got {scheme!r}")
    username = env.get("MYNA_USERNAME", "myna")
    if not _USERNAME_RE.match(username):
        raise ConfigError(
            f"MYNA_USERNAME must match [a-z0-9_] with . or - inside, got {username!r}"
        )
    data_dir = Path(env.get("MYNA_DATA_DIR") or "data")
    if not data_dir.is_absolute():
        data_dir = (cwd or Path.cwd()) / data_dir
    database_url = env.get("MYNA_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'myna.db'}"
    if database_url.startswith(("postgres://", "postgresql://")):
        database_url = "postgresql+asyncpg://" + database_url.split("://", 1)[1]
    if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "MYNA_DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    try:
        port = int(env.get("MYNA_PORT", "8000"))
    except ValueError as exc:
        raise ConfigError(f"MYNA_PORT must be a number, got {env.get('MYNA_PORT')!r}") from exc
    if not 0 < port < 65536:
        raise ConfigError(f"MYNA_PORT must be between 1 and 65535, got {port}")
    actor_type = env.get("MYNA_ACTOR_TYPE", "Service")
    if actor_type not in ACTOR_TYPES:
        raise ConfigError(f"MYNA_ACTOR_TYPE must be one of {', '.join(ACTOR_TYPES)}")
    log_level = env.get("MYNA_LOG_LEVEL", "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(
            f"MYNA_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}"
        )

    return Settings(
        domain=domain,
        scheme=scheme,
        username=username,
        data_dir=data_dir,
        database_url=database_url,
        host=env.get("MYNA_HOST", "127.0.0.1"),
        port=port,
        allow_private_network=_flag(env, "MYNA_ALLOW_PRIVATE_NETWORK", False),
        authorized_fetch=_flag(env, "MYNA_AUTHORIZED_FETCH", False),
        actor_type=actor_type,
        display_name=env.get("MYNA_DISPLAY_NAME", "Myna"),
        summary=env.get("MYNA_SUMMARY", "AI-assisted posts, reviewed by a human."),
        profile_fields=_profile_fields(env.get("MYNA_PROFILE_FIELDS")),
        manually_approves_followers=_flag(env, "MYNA_MANUALLY_APPROVES_FOLLOWERS", False),
        discoverable=_flag(env, "MYNA_DISCOVERABLE", True),
        show_follows=_flag(env, "MYNA_SHOW_FOLLOWS", True),
        indexable=_flag(env, "MYNA_INDEXABLE", True),
        openai_base_url=env.get("OPENAI_BASE_URL") or None,
        openai_api_key=env.get("OPENAI_API_KEY") or None,
        text_model=env.get("MYNA_TEXT_MODEL") or None,
        image_model=env.get("MYNA_IMAGE_MODEL") or None,
        moderation_model=env.get("MYNA_MODERATION_MODEL") or None,
        workers_in_process=_flag(env, "MYNA_WORKERS_IN_PROCESS", True),
        log_level=log_level,
        delivery_lease_seconds=_int(env, "MYNA_DELIVERY_LEASE_SECONDS", 60, minimum=5),
        follow_moves=_flag(env, "MYNA_FOLLOW_MOVES", False),
        operator=env.get("MYNA_OPERATOR") or None,
        daily_post_budget=_int(env, "MYNA_DAILY_POST_BUDGET", 24),
        daily_cost_budget=_float(env, "MYNA_DAILY_COST_BUDGET", 1.0),
        prices=_prices(env.get("MYNA_PRICES")),
        reply_to_mentions=_flag(env, "MYNA_REPLY_TO_MENTIONS", False),
        replies_per_actor_per_hour=_int(env, "MYNA_REPLIES_PER_ACTOR_PER_HOUR", 2),
        reply_auto_publish=_flag(env, "MYNA_REPLY_AUTO_PUBLISH", False),
        clock_file=Path(env["MYNA_CLOCK_FILE"]) if env.get("MYNA_CLOCK_FILE") else None,
    )
