# mypy: ignore-errors
"""`manage.py seed_users FILE`: create (or update) users from JSON lines.

Each line: {"login_id": str, "email": str, "password": str, "totp_secret"?: base32 str}.
A totp_secret becomes a confirmed django-otp TOTPDevice (step 30, 6 digits, tolerance 1).
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

BATCH = 500


def totp_key_hex(secret: str) -> str:
    """django-otp stores a TOTP key as hex; authenticator apps (and pyotp) use base32."""
    cleaned = secret.replace(" ", "").upper()
    try:
        return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8)).hex()
    except (binascii.Error, ValueError) as exc:
        raise CommandError(f"totp_secret is not base32: {secret!r}") from exc


def read_records(path: Path) -> list[dict]:
    records = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record.get("login_id"), str) or not isinstance(
                record.get("password"), str
            ):
                raise CommandError(f"{path}:{number}: login_id and password are required")
            records.append(record)
    return records


class Command(BaseCommand):
    help = "Create or update users (and TOTP devices) from a JSON-lines file."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        records = read_records(file)
        user_model = get_user_model()
        # Each distinct password is hashed once and its encoded hash reused: users who share a
        # password then share the salt too. Verifying costs the same (same argon2 parameters),
        # and seeding thousands of users takes seconds instead of minutes.
        encoded: dict[str, str] = {}
        for record in records:
            if record["password"] not in encoded:
                encoded[record["password"]] = make_password(record["password"])

        with transaction.atomic():
            existing = dict(user_model.objects.values_list("username", "id"))
            new, updated = [], 0
            for record in records:
                login_id = record["login_id"]
                if login_id in existing:
                    user_model.objects.filter(pk=existing[login_id]).update(
                        password=encoded[record["password"]], email=record.get("email", "")
                    )
                    TOTPDevice.objects.filter(user_id=existing[login_id]).delete()
                    updated += 1
                else:
                    new.append(
                        user_model(
                            username=login_id,
                            email=record.get("email", ""),
                            password=encoded[record["password"]],
                        )
                    )
            user_model.objects.bulk_create(new, batch_size=BATCH)
            ids = dict(user_model.objects.values_list("username", "id"))
            devices = [
                TOTPDevice(
                    user_id=ids[record["login_id"]],
                    name="authenticator",
                    key=totp_key_hex(record["totp_secret"]),
                    step=30,
                    t0=0,
                    digits=6,
                    tolerance=1,
                    confirmed=True,
                )
                for record in records
                if record.get("totp_secret")
            ]
            TOTPDevice.objects.bulk_create(devices, batch_size=BATCH)
        self.stdout.write(
            f"seeded {len(records)} users ({len(new)} new, {updated} updated), "
            f"{len(devices)} TOTP devices"
        )
