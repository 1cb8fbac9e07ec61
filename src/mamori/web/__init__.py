"""HTTP: app factory, JSON API, HTML pages, security middleware."""
