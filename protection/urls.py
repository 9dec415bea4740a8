from django.urls import path

from protection import views
from protection.http import health_views

urlpatterns = [
    path("health", health_views.HealthView.as_view(), name="health"),
    path("health/live", health_views.LivenessView.as_view(), name="health-live"),
    path("health/ready", health_views.ReadinessView.as_view(), name="health-ready"),
    path("challenges", views.ChallengeView.as_view(), name="challenges"),
    path("sessions", views.SessionCreateView.as_view(), name="sessions"),
    path("sessions/refresh", views.SessionRefreshView.as_view(), name="sessions-refresh"),
    path("sessions/current", views.SessionCurrentView.as_view(), name="sessions-current"),
]
