from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from protection.errors import api_not_found
from protection.http.metrics_view import metrics_view
from signup.page import signup_page

urlpatterns = [
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", include("protection.urls")),
    path("api/v1/", include("signup.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    re_path(r"^api/", api_not_found),
    path("", signup_page, name="signup-page"),
    # Where the code mail's link lands (PUBLIC_BASE_URL + "/confirm#t=…").
    path("confirm", signup_page, name="signup-confirm-page"),
]
