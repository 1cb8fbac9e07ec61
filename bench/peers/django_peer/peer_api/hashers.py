# mypy: ignore-errors
"""Django's Argon2 hasher at Mamori's parameters (mamori.passwords.Argon2Params)."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class MamoriArgon2PasswordHasher(Argon2PasswordHasher):
    """argon2id (Django's default variety), 19 MiB, 2 passes, 1 lane.

    The algorithm name stays "argon2", so the encoded hashes are Django's ordinary
    `argon2$argon2id$v=19$m=19456,t=2,p=1$...` and Django's must_update() sees them as current.
    """

    time_cost = 2
    memory_cost = 19456  # KiB
    parallelism = 1
