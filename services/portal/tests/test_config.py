"""Production mode refuses the local conveniences."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from portal.config import PortalSettings

OIDC = {"discovery_url": "https://idp.example/.well-known/openid-configuration", "client_id": "portal"}


def test_production_refuses_local_sign_in_and_weak_secrets() -> None:
    with pytest.raises(ValidationError) as info:
        PortalSettings(mode="production")
    message = str(info.value)
    for part in ("local_sign_in", "oidc", "session_secret", "cookie_secure", "public_url"):
        assert part in message
    assert "local-portal-session-secret" not in message  # never echoed


def test_production_with_an_identity_provider_loads() -> None:
    settings = PortalSettings(
        mode="production",
        local_sign_in=False,
        oidc=OIDC,
        session_secret="x" * 40,
        cookie_secure=True,
        public_url="https://portal.example",
    )
    assert not settings.local_sign_in_allowed


def test_local_sign_in_is_only_ever_allowed_in_local_and_test_modes() -> None:
    assert PortalSettings(mode="local").local_sign_in_allowed
    assert not PortalSettings(mode="test", local_sign_in=False).local_sign_in_allowed
