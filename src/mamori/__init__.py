"""Mamori (守り): a self-hosted login and account-protection service."""

__version__ = "0.1.0"
