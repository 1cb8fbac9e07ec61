"""Pure defense engines: lockout tiers, IP/subnet/network rules, credential-stuffing detection.

Nothing here does I/O or reads the clock: signals in, decisions out (a test parses the imports).
"""
