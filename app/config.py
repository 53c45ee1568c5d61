"""Settings, read from the environment (prefix ``LOADLINE_``) or a ``.env`` file."""

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob the service has; the README lists them for IT."""

    model_config = SettingsConfigDict(env_prefix="LOADLINE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./loadline.db"
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


@lru_cache
def get_settings() -> Settings:
    """One settings object per process, so the environment is read once."""
    return Settings()
