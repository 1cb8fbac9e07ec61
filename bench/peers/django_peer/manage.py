#!/usr/bin/env python
# mypy: ignore-errors
"""Django's command-line utility for the peer (run with the peer's own virtual environment)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
