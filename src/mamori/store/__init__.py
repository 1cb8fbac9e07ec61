"""Durable storage: SQLAlchemy Core over SQLite (default) or PostgreSQL."""

from mamori.store.sql import Store, Tx, create_store

__all__ = ["Store", "Tx", "create_store"]
