"""The demo sign-up page at ``/``: one static template, all work done by the browser."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def demo_signup_page(request: HttpRequest) -> HttpResponse:
    """The page calls the public API itself; it holds no key and no server state."""
    return render(request, "signup/demo.html")
