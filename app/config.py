"""Settings, read from the environment (prefix ``LOADLINE_``) or a ``.env`` file."""

import ipaddress
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob the service has; the README lists them for IT."""

    model_config = SettingsConfigDict(env_prefix="LOADLINE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./loadline.db"
    database_pooler: Literal["none", "pgbouncer"] = Field(
        default="none",
        description="`pgbouncer` when database_url points at PgBouncer in transaction pooling "
        "mode: asyncpg then keeps no prepared statements between transactions and names each "
        "one uniquely, since consecutive transactions may run on different server connections.",
    )
    database_pool_size: int = Field(
        default=20,
        ge=1,
        le=500,
        description="PostgreSQL connections each process keeps open (plus up to 10 more in a "
        "burst). At least the requests one process runs at once, so none waits to open a "
        "connection; replicas x (this + 10) must stay under the server's max_connections "
        "(or PgBouncer's pool).",
    )
    shutdown_grace_seconds: float = Field(
        default=20.0,
        description="On SIGTERM, how long in-flight requests may run on, and then how long "
        "running jobs may take to reach their next stopping point, before they are cut off.",
    )
    secret_key: str = Field(
        default="dev-insecure-change-me",
        description="Signs access tokens and OAuth state. Set a long random value in production.",
    )
    token_keys: str = Field(
        default="",
        description="Comma-separated Fernet keys for vendor tokens: first encrypts, all decrypt.",
    )
    scheduler: Literal["on", "off"] = "on"
    public_base_url: str = "http://127.0.0.1:8000"
    outbound_allow_private: bool = False
    whoop_client_id: str = ""
    whoop_client_secret: str = ""
    whoop_authorize_url: str = "https://api.prod.whoop.com/oauth/oauth2/auth"
    whoop_token_url: str = "https://api.prod.whoop.com/oauth/oauth2/token"  # noqa: S105
    whoop_api_base: str = "https://api.prod.whoop.com/developer"
    oura_client_id: str = ""
    oura_client_secret: str = ""
    oura_authorize_url: str = "https://cloud.ouraring.com/oauth/authorize"
    oura_token_url: str = "https://api.ouraring.com/oauth/token"  # noqa: S105
    oura_api_base: str = "https://api.ouraring.com"
    oura_verification_token: str = ""
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    jwt_audience: str = "loadline"
    log_level: str = "INFO"
    sql_echo: bool = False
    metrics_token: str = Field(
        default="",
        description="When set, GET /metrics requires `Authorization: Bearer <this>`; when "
        "empty, /metrics is open and must only be reachable inside the cluster.",
    )
    worker_metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="When not 0, `loadline worker` serves its Prometheus metrics (job runs "
        "and failures) on this port at /metrics, on worker_metrics_host.",
    )
    worker_metrics_host: str = "0.0.0.0"  # noqa: S104 - the worker's container port
    cors_origins: str = Field(
        default="",
        description="Comma-separated browser origins allowed to call the API (CORS); "
        "empty sends no CORS headers at all.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="Largest request body accepted (413 beyond); the GPS CSV import takes "
        "up to 5 MiB plus its multipart framing whatever this says.",
    )
    login_max_attempts: int = Field(
        default=5,
        ge=1,
        description="Password attempts per email from one client address within "
        "login_window_minutes before POST /auth/token answers 429 (a success resets it).",
    )
    login_max_attempts_per_email: int = Field(
        default=50,
        ge=1,
        description="Password attempts per email from all addresses together within "
        "login_window_minutes before 429 (a guesser spread over many addresses).",
    )
    login_max_attempts_per_ip: int = Field(
        default=50,
        ge=0,
        description="Failed password attempts per client address within "
        "login_window_minutes before 429 (0 turns this bound off).",
    )
    login_window_minutes: int = Field(
        default=15, ge=1, description="The login throttling window, from its first attempt."
    )
    login_known_address_days: int = Field(
        default=90,
        ge=0,
        le=3650,
        description="How long an address an account signed in from stays known to it: past "
        "login_max_attempts_per_email, attempts from a known address are still let in "
        "(within login_max_attempts), those from others are 429. Strangers' guesses then "
        "never lock the owner out where they have signed in before. 0 turns this off.",
    )
    forwarded_allow_ips: str = Field(
        default="",
        description="Comma-separated addresses or networks (CIDR) of the reverse proxies "
        "whose X-Forwarded-For and X-Forwarded-Proto `loadline serve` believes, or `*` for "
        "every peer (only when nothing but the proxy can reach the server). Empty believes "
        "no one: the connecting peer is the client (the sign-in throttle counts per client "
        "address, so a trusted header chooses the address counted).",
    )
    register_max_per_ip: int = Field(
        default=100,
        ge=0,
        description="Registrations (refused ones included) per client address within "
        "register_window_minutes before POST /auth/register answers 429 (0 turns this off). "
        "Generous: a whole squad may sign up from the club's one address.",
    )
    register_window_minutes: int = Field(
        default=60, ge=1, description="The registration throttling window, from its first."
    )
    reset_max_per_email: int = Field(
        default=3,
        ge=0,
        description="Password reset emails per address within reset_window_minutes; "
        "further requests still answer 202 but send nothing (0 turns this off).",
    )
    reset_max_per_ip: int = Field(
        default=20,
        ge=0,
        description="Password reset requests per client address within "
        "reset_window_minutes that may send an email (0 turns this off).",
    )
    reset_window_minutes: int = Field(
        default=60, ge=1, description="The password reset throttling window, from its first."
    )
    smtp_url: str = Field(
        default="",
        description="The mail server, `smtp://user:password@host:587` (STARTTLS when the "
        "server offers it) or `smtps://...:465` (TLS from the start). Setting it turns email "
        "on, unless email_backend says otherwise.",
    )
    email_from: str = Field(
        default="Loadline <no-reply@localhost>",
        description="The From of every email the service sends.",
    )
    email_backend: Literal["smtp", "console", "none"] | None = Field(
        default=None,
        description="`smtp` sends through smtp_url, `console` prints each email to standard "
        "output (what `make run` uses), `none` sends nothing. Unset: `smtp` when smtp_url is "
        "set, else `none`.",
    )
    email_max_attempts: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Attempts at one email while the mail server is down or answers 4xx, "
        "1 minute apart at first, doubling up to an hour (8: about two hours of retrying), "
        "after which it is given up (`failed`).",
    )

    @property
    def email_delivery(self) -> Literal["smtp", "console", "none"]:
        """How emails go out: the backend asked for, or SMTP when a server is configured."""
        if self.email_backend is not None:
            return self.email_backend
        return "smtp" if self.smtp_url else "none"

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def forwarded_allow_ip_list(self) -> list[str]:
        return _entries(self.forwarded_allow_ips)

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        """uvicorn takes an entry it cannot parse as a name that no peer ever matches, and a
        ``*`` among others as such a name too: refuse both at start rather than trust no
        proxy without a word."""
        entries = _entries(value)
        if "*" in entries and len(entries) > 1:
            raise ValueError("'*' trusts every peer: give it alone")
        for entry in entries:
            if entry != "*" and not _is_address_or_network(entry):
                raise ValueError(f"{entry!r} is not an IP address or network (CIDR)")
        return value


def _entries(value: str) -> list[str]:
    return [entry.strip() for entry in value.split(",") if entry.strip()]


def _is_address_or_network(entry: str) -> bool:
    """As uvicorn reads it: a network when there is a slash (host bits unset), else one
    address."""
    try:
        if "/" in entry:
            ipaddress.ip_network(entry)
        else:
            ipaddress.ip_address(entry)
    except ValueError:
        return False
    return True


@lru_cache
def get_settings() -> Settings:
    """One settings object per process, so the environment is read once."""
    return Settings()
