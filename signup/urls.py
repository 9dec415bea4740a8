"""The sign-up API, mounted at /api/v1/."""

from django.urls import path

from signup import views
from signup.confirm_view import PersonConfirmView

urlpatterns = [
    path("persons/lookup", views.PersonLookupView.as_view(), name="person-lookup"),
    path("persons", views.PersonCreateView.as_view(), name="person-create"),
    path("persons/confirm", PersonConfirmView.as_view(), name="person-confirm"),
]
