"""Our OAuth apps at the linked-device vendors (Whoop, Oura): their settings, and the URL
pieces every flow needs.

One :class:`VendorApp` per :class:`~app.models.Provider`, read from settings by
:func:`vendor_app`: client credentials, the authorize and token endpoints, the API's base,
the scope asked for and where the athlete's vendor user id is read. A vendor whose
credentials are not set is unknown to this server (:func:`configured_app`: a 404).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from app.config import Settings
from app.errors import NotFound
from app.models import Provider


@dataclass(frozen=True)
class VendorApp:
    """Our registered OAuth app at one vendor, and where its API lives."""

    provider: Provider
    client_id: str
    client_secret: str = field(repr=False)  # out of any repr, log line or traceback
    authorize_url: str
    token_url: str
    api_base: str
    scope: str
    profile_path: str
    profile_id_field: str
    refresh_params: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.provider.value.title()

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


# Whoop issues a refresh token only with ``offline``, and asks for it again on refresh.
WHOOP_SCOPE = "offline read:recovery read:sleep read:cycles read:profile"
OURA_SCOPE = "personal daily"


def vendor_app(settings: Settings, provider: Provider) -> VendorApp:
    """The vendor's OAuth app from settings (URLs default to the vendor's own)."""
    if provider is Provider.WHOOP:
        return VendorApp(
            provider=provider,
            client_id=settings.whoop_client_id,
            client_secret=settings.whoop_client_secret,
            authorize_url=settings.whoop_authorize_url,
            token_url=settings.whoop_token_url,
            api_base=settings.whoop_api_base.rstrip("/"),
            scope=WHOOP_SCOPE,
            profile_path="/v2/user/profile/basic",
            profile_id_field="user_id",
            refresh_params={"scope": "offline"},
        )
    return VendorApp(
        provider=provider,
        client_id=settings.oura_client_id,
        client_secret=settings.oura_client_secret,
        authorize_url=settings.oura_authorize_url,
        token_url=settings.oura_token_url,
        api_base=settings.oura_api_base.rstrip("/"),
        scope=OURA_SCOPE,
        profile_path="/v2/usercollection/personal_info",
        profile_id_field="id",
    )


def provider_from_path(name: str) -> Provider:
    """``whoop`` or ``oura`` (any case) from a URL; anything else is a 404."""
    try:
        return Provider(name.upper())
    except ValueError:
        raise NotFound(f"Unknown device provider {name[:40]!r}") from None


def configured_app(settings: Settings, provider: Provider) -> VendorApp:
    """The vendor's app, or a 404 when this server has no credentials for that vendor."""
    app = vendor_app(settings, provider)
    if not app.configured:
        raise NotFound(f"This server has no {app.name} integration configured")
    return app


def redirect_uri(settings: Settings, provider: Provider) -> str:
    """The callback registered with the vendor; the token request must repeat it exactly."""
    base = settings.public_base_url.rstrip("/")
    return f"{base}/integrations/{provider.value.lower()}/callback"


def inbox_name(provider: Provider) -> str:
    """The provider's name in the webhook inbox and in its URLs: ``whoop``, ``oura``."""
    return provider.value.lower()
