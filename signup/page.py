"""The reference sign-up page at ``/``: one form, the official ALTCHA widget, no server state.

The page is static HTML plus static files (served by WhiteNoise, no CDN);
everything it does goes through the public API from the browser, exactly as
a product team's own front end would. It is served only when
``GATEHOUSE["SIGNUP_PAGE_ENABLED"]`` is on (DEBUG turns it on), and always
under a strict Content-Security-Policy: no inline script or style, workers
and fetches only from this origin.

CAPTCHAs: when a challenge's ``requires`` names Turnstile or hCaptcha, the
page loads that provider's widget script (SIGNUP_PAGE_<PROVIDER>_SCRIPT),
renders it explicitly and sends its token with the session start. The CSP
names the sources of the providers whose site key is configured, and no
others (SIGNUP_PAGE_CAPTCHA_CSP).

DPoP: the page holds a non-extractable WebCrypto key and binds its session
to it (RFC 9449) when the server can check proofs, that is when
``GATEHOUSE["PUBLIC_BASE_URL"]`` is set. Its origin is written into the page;
the page signs proofs only when that is the origin it was loaded from (the
``htu`` it signs is ``location.origin`` + path), and uses Bearer tokens
otherwise.
"""

from collections.abc import Iterable

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from protection.challenges import captcha_site_key
from protection.dpop import dpop_public_origin
from signup.conf import signup_settings

ALTCHA_VERSION = "3.2.2"  # signup/static/signup/vendor/altcha-<version>/

# The widget's "external" build keeps its styles in a stylesheet and its
# proof-of-work in worker files, so nothing here needs 'unsafe-inline',
# 'unsafe-eval' or blob: workers.
BASE_POLICY = {
    "default-src": ["'none'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "worker-src": ["'self'"],
    "form-action": ["'self'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
}
CAPTCHA_PROVIDERS = ("turnstile", "hcaptcha")


def captcha_scripts() -> dict[str, str]:
    """The widget script of each CAPTCHA the page can render: its site key is set."""
    return {
        provider: getattr(signup_settings, f"SIGNUP_PAGE_{provider.upper()}_SCRIPT")
        for provider in CAPTCHA_PROVIDERS
        if captcha_site_key(provider)
    }


def content_security_policy(providers: Iterable[str] = ()) -> str:
    """The page's CSP: the strict base, plus the sources ``providers``' widgets need."""
    policy = {directive: list(sources) for directive, sources in BASE_POLICY.items()}
    extra = signup_settings.SIGNUP_PAGE_CAPTCHA_CSP or {}
    for provider in providers:
        for directive, sources in (extra.get(provider) or {}).items():
            policy.setdefault(directive, []).extend(
                source for source in sources if source not in policy[directive]
            )
    return "; ".join(f"{directive} {' '.join(sources)}" for directive, sources in policy.items())


@require_GET
def signup_page(request: HttpRequest) -> HttpResponse:
    """Render the page, or 404 when the deployment has not enabled it."""
    if not signup_settings.SIGNUP_PAGE_ENABLED:
        raise Http404("The sign-up page is not enabled.")
    scripts = captcha_scripts()
    response = render(
        request,
        "signup/page.html",
        {
            "api_key": signup_settings.SIGNUP_PAGE_API_KEY,
            # Empty: DPoP proofs cannot be checked here, the page uses Bearer.
            "dpop_origin": dpop_public_origin() or "",
            "altcha_static": f"signup/vendor/altcha-{ALTCHA_VERSION}/",
            # Loaded only when a challenge asks for that CAPTCHA.
            "captcha_scripts": scripts,
        },
    )
    response["Content-Security-Policy"] = content_security_policy(scripts)
    # The API key may travel in the URL fragment; never leak the page URL.
    response["Referrer-Policy"] = "no-referrer"
    return response
