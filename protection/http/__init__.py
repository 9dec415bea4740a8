"""The HTTP edge's internals: the gate (every refusal of a protected request,
in order), the request context, health and metrics views, serializers and
the OpenAPI security schemes. The modules at the package root that hosts
name in their settings (authentication, permissions, throttling, middleware,
errors, parsers, requestid, adminlogin, openapi) are the edge's adapters."""
