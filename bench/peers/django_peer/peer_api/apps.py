# mypy: ignore-errors
"""App config of the peer's JSON API."""

from django.apps import AppConfig


class PeerApiConfig(AppConfig):
    name = "peer_api"
    default_auto_field = "django.db.models.BigAutoField"
