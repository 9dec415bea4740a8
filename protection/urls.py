from django.urls import path

from protection import views

urlpatterns = [
    path("health", views.HealthView.as_view(), name="health"),
]
