"""Settings from the environment, a `.env` file, and `*_FILE` secret files — never from mappings.

Every secret is held as `Secret`, whose repr and str are redacted, so a stray log line or
exception message cannot leak it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from connector.errors import ConfigError

_SECRET_WATCHERS: list[Callable[[str], None]] = []


def watch_secrets(callback: Callable[[str], None]) -> None:
    """Call `callback(value)` for every Secret created from now on (the log redaction registers here,
    so tokens minted at runtime — OAuth refreshes, Salesforce sessions — are scrubbed too)."""
    _SECRET_WATCHERS.append(callback)


class Secret:
    """A credential that prints as '***'; call `.reveal()` only at the HTTP edge."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        for callback in _SECRET_WATCHERS:
            callback(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def read_env_file(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines (comments, blank lines and `export ` allowed; quotes stripped)."""
    values: dict[str, str] = {}
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"{path}:{lineno}: expected KEY=VALUE")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _lookup(env: Mapping[str, str], name: str) -> str | None:
    """`NAME`, or the contents of the file named by `NAME_FILE` (Docker/K8s secrets)."""
    if env.get(name):
        return env[name]
    file_name = env.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text(encoding="utf-8").strip()
    return None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ConfigError(f"{name}: expected a whole number >= 0, got {raw!r}")
    return int(raw)


def _seconds(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds < math.inf:
        default_s = f"{default.total_seconds():g}"
        raise ConfigError(f"{name}={raw!r}: use a number of seconds, 0 or more (default {default_s})")
    return timedelta(seconds=seconds)


def _secret(env: Mapping[str, str], name: str) -> Secret | None:
    value = _lookup(env, name)
    return Secret(value) if value else None


@dataclass(frozen=True)
class HubSpotSettings:
    base_url: str = "https://api.hubapi.com"
    access_token: Secret | None = None  # private-app token
    refresh_token: Secret | None = None  # OAuth
    client_id: str | None = None
    client_secret: Secret | None = None
    # Searches started per second, paced client-side (HubSpot allows 5/s per account on every
    # tier and answers the 6th with a 429); 0 switches pacing off (a sandbox without limits).
    search_rate: int = 5


@dataclass(frozen=True)
class SalesforceSettings:
    instance_url: str | None = None
    login_url: str = "https://login.salesforce.com"
    api_version: str = "59.0"
    client_id: str | None = None
    client_secret: Secret | None = None
    refresh_token: Secret | None = None
    username: str | None = None
    password: Secret | None = None
    security_token: Secret | None = None
    ca_bundle: str | None = None  # a PEM to trust (the sandbox's generated CA)


AMBIGUOUS_GRACE_ENV = "REVOPS_AMBIGUOUS_GRACE_SECONDS"
DEFAULT_AMBIGUOUS_GRACE = timedelta(minutes=2)
"""How old the last attempt of a write with no answer must be before the relay sends it again:
longer than a request can stay in flight plus HubSpot's search-index delay."""


@dataclass(frozen=True)
class Settings:
    hubspot: HubSpotSettings = field(default_factory=HubSpotSettings)
    salesforce: SalesforceSettings = field(default_factory=SalesforceSettings)
    database_url: str = "sqlite:///var/revops-sync.db"
    mappings: tuple[str, ...] = ("mappings/the-model.yaml",)
    jobs: str = "jobs/default.yaml"
    log_json: bool = False
    ambiguous_grace: timedelta = DEFAULT_AMBIGUOUS_GRACE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: Path | None = None) -> Settings:
        """Environment wins over the `.env` file, so a deployment can override a checked-out default."""
        env: dict[str, str] = {}
        if env_file is not None and env_file.exists():
            env.update(read_env_file(env_file))
        env.update(os.environ if environ is None else environ)
        hs = HubSpotSettings(
            base_url=env.get("HUBSPOT_BASE_URL", HubSpotSettings.base_url),
            access_token=_secret(env, "HUBSPOT_ACCESS_TOKEN"),
            refresh_token=_secret(env, "HUBSPOT_REFRESH_TOKEN"),
            client_id=env.get("HUBSPOT_CLIENT_ID"),
            client_secret=_secret(env, "HUBSPOT_CLIENT_SECRET"),
            search_rate=_int(env, "HUBSPOT_SEARCH_RATE", HubSpotSettings.search_rate),
        )
        sf = SalesforceSettings(
            instance_url=env.get("SALESFORCE_INSTANCE_URL"),
            login_url=env.get("SALESFORCE_LOGIN_URL", SalesforceSettings.login_url),
            api_version=env.get("SALESFORCE_API_VERSION", SalesforceSettings.api_version),
            client_id=env.get("SALESFORCE_CLIENT_ID"),
            client_secret=_secret(env, "SALESFORCE_CLIENT_SECRET"),
            refresh_token=_secret(env, "SALESFORCE_REFRESH_TOKEN"),
            username=env.get("SALESFORCE_USERNAME"),
            password=_secret(env, "SALESFORCE_PASSWORD"),
            security_token=_secret(env, "SALESFORCE_SECURITY_TOKEN"),
            ca_bundle=env.get("SALESFORCE_CA_BUNDLE"),
        )
        mappings = env.get("REVOPS_MAPPINGS")
        return cls(
            hubspot=hs,
            salesforce=sf,
            database_url=env.get("REVOPS_DATABASE_URL", cls.database_url),
            mappings=tuple(m for m in mappings.split(",") if m) if mappings else cls.mappings,
            jobs=env.get("REVOPS_JOBS", cls.jobs),
            log_json=env.get("REVOPS_LOG_JSON", "").lower() in {"1", "true", "yes"},
            ambiguous_grace=_seconds(env, AMBIGUOUS_GRACE_ENV, DEFAULT_AMBIGUOUS_GRACE),
        )
