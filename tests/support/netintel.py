"""Network-origin source files for tests, in the real formats, with documentation
ranges (RFC 5737, RFC 3849, 198.18.0.0/15) and private-use AS numbers
(64496-64511, 65536-65551) only."""

import json
from pathlib import Path

from django.core.management import call_command

IP2ASN_V4 = (
    "192.0.2.0\t192.0.2.127\t64500\tXA\tEXAMPLE-HOSTING Example Hosting Ltd\n"
    "192.0.2.128\t192.0.2.255\t64501\tXB\tDOC-ISP Documentation Broadband\n"
    "198.51.100.0\t198.51.100.255\t65536\tXA\tBIG-AS Four-byte networks\n"
    "198.18.0.0\t198.19.255.255\t64502\tNone\tBENCH-NET\n"
    "203.0.113.0\t203.0.113.255\t0\tNone\tNot routed\n"
)
IP2ASN_V6 = (
    "2001:db8::\t2001:db8:0:ffff:ffff:ffff:ffff:ffff\t64500\tXA\t"
    "EXAMPLE-HOSTING Example Hosting Ltd\n"
    "2001:db8:1::\t2001:db8:1:ffff:ffff:ffff:ffff:ffff\t65551\tXC\tV6-ONLY\n"
)
CLASSES = {
    "hosting": "# the hosting provider's ranges\n192.0.2.0/25\n2001:db8::/48\n",
    "tor": "192.0.2.10\n203.0.113.5 # an exit without an AS\n",
    "vpn": "198.51.100.128/25\n",
    "proxy": "198.51.100.200/32\n",
}


def write_sources(directory: Path, **overrides: str | None) -> Path:
    """Write the default files into ``directory``; ``name=text`` replaces one
    (``name`` with dots and dashes as underscores), ``name=None`` leaves it out."""
    files = {
        "ip2asn-v4.tsv": IP2ASN_V4,
        "ip2asn-v6.tsv": IP2ASN_V6,
        **{f"{name}.txt": text for name, text in CLASSES.items()},
    }
    for key, text in overrides.items():
        name = {
            "ip2asn_v4": "ip2asn-v4.tsv",
            "ip2asn_v6": "ip2asn-v6.tsv",
            "ip_ranges": "ip-ranges.json",
            "cloud": "cloud.json",
        }.get(key, f"{key}.txt")
        files[name] = text
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if text is not None:
            (directory / name).write_text(text)
    return directory


def aws_ranges(*prefixes: str) -> str:
    v4 = [
        {"ip_prefix": p, "region": "xx-test-1", "service": "EC2"} for p in prefixes if ":" not in p
    ]
    v6 = [{"ipv6_prefix": p, "region": "xx-test-1", "service": "EC2"} for p in prefixes if ":" in p]
    return json.dumps({"syncToken": "1", "prefixes": v4, "ipv6_prefixes": v6})


def google_ranges(*prefixes: str) -> str:
    items = [{"ipv6Prefix" if ":" in p else "ipv4Prefix": p, "scope": "test"} for p in prefixes]
    return json.dumps({"syncToken": "1", "prefixes": items})


def load_sources(directory: Path, **overrides: str | None) -> None:
    """Write the files and run ``netintel_update --from`` on them."""
    write_sources(directory, **overrides)
    call_command("netintel_update", "--from", str(directory), verbosity=0)


class SourceServer:
    """A local stand-in for iptoasn, AWS, Google and the Tor Project: serves
    ``files`` (path -> bytes) on 127.0.0.1; any other path is a 404."""

    def __init__(self, files: dict[str, bytes]) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        served = files

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = served.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> "SourceServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
