# mypy: ignore-errors
"""Routes of the Django peer: the same login/logout/me routes as Mamori's JSON API."""

from django.urls import path
from peer_api import views

urlpatterns = [
    path("healthz", views.healthz),
    path("api/v1/login", views.login),
    path("api/v1/login/otp", views.login_otp),
    path("api/v1/logout", views.logout),
    path("api/v1/me", views.me),
]
