"""The peer's one app: the JSON login API, the Argon2 hasher and the seed_users command."""
