"""The one parser of ``REDIS_URL`` in its three topologies.

``redis.from_url`` takes one host. A Sentinel deployment names its sentinels
and a Cluster its seed nodes, several hosts in one URL, which it cannot
parse; this module does, for ``config.settings`` (building ``CACHES``), the
system checks (``protection.checks``) and the cache backend
(``protection.core.rediscache``), so all three agree on what a URL means
and say the same thing about a bad one.

- ``single``: ``redis://[user:password@]host[:6379][/db]`` (``rediss://``
  for TLS, ``unix:///path.sock?db=0``): handed to redis-py as it is.
- ``sentinel``: ``redis://[user:password@]s1[:26379],s2[:26379][/db]``: the
  sentinels; ``service`` names the monitored primary; the user and password
  are the primary's, ``sentinel_password`` the sentinels' own (if any).
- ``cluster``: ``redis://[user:password@]n1[:6379],n2[:6379]``: seed nodes
  (any few of the cluster); a cluster has only database 0.

IPv6 hosts are written in brackets (``[2001:db8::1]:7000``).
"""

from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

__all__ = ["MODES", "RedisTarget", "RedisUrlError", "redis_url_parse"]

MODES = ("single", "sentinel", "cluster")
_DEFAULT_PORTS = {"single": 6379, "sentinel": 26379, "cluster": 6379}
_SCHEMES = ("redis", "rediss", "unix", "valkey", "valkeys")


class RedisUrlError(ValueError):
    """A Redis URL that does not fit its mode; the message says why (never the password)."""


@dataclass(frozen=True)
class RedisTarget:
    """What a Redis URL names, by mode."""

    mode: str
    url: str = field(repr=False)  # as given (single mode hands it to redis-py)
    hosts: tuple[tuple[str, int], ...] = ()
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    service: str = ""  # sentinel: the monitored primary's name
    sentinel_password: str | None = field(default=None, repr=False)

    def connection_kwargs(self) -> dict[str, object]:
        """Keyword arguments for a redis-py connection to a data node."""
        kwargs: dict[str, object] = {}
        if self.username:
            kwargs["username"] = self.username
        if self.password:
            kwargs["password"] = self.password
        if self.tls:
            kwargs["ssl"] = True
        return kwargs


def _host_port(text: str, default_port: int) -> tuple[str, int]:
    if not text:
        raise RedisUrlError("a host is empty (two commas in a row, or a trailing comma?)")
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not host:
            raise RedisUrlError(f"{text!r}: an IPv6 host needs its closing bracket")
        if rest and not rest.startswith(":"):
            raise RedisUrlError(f"{text!r}: expected ':port' after the IPv6 host")
        port_text = rest[1:]
    else:
        host, _, port_text = text.partition(":")
        if ":" in port_text:
            raise RedisUrlError(f"{text!r}: write an IPv6 host in brackets, [2001:db8::1]:6379")
    if not host:
        raise RedisUrlError(f"{text!r}: the host is empty")
    if port_text == "":
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise RedisUrlError(f"{text!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def _db(text: str, mode: str) -> int:
    if text in ("", "/"):
        return 0
    number = text.strip("/")
    if not number.isdigit():
        raise RedisUrlError(f"the database {number!r} is not a number")
    if mode == "cluster" and int(number) != 0:
        raise RedisUrlError("a Redis Cluster has only database 0: drop the /db")
    return int(number)


def redis_url_parse(url: str, *, mode: str = "single", service: str = "") -> RedisTarget:
    """Parse ``url`` for ``mode``; raise ``RedisUrlError`` saying what is wrong."""
    if mode not in MODES:
        raise RedisUrlError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        raise RedisUrlError("expected redis://host:port (or rediss:// for TLS)")
    if scheme.lower() not in _SCHEMES:
        # Only the scheme is repeated: the rest may hold a password.
        raise RedisUrlError(
            f"the scheme is {scheme[:20]!r}; expected redis://host:port (or rediss:// for TLS)"
        )
    scheme = scheme.lower()
    if scheme == "unix":
        if mode != "single":
            raise RedisUrlError(f"a unix socket cannot name a {mode}")
        if not rest.startswith("/"):
            raise RedisUrlError("expected unix:///path/to/redis.sock")
        return RedisTarget(mode=mode, url=url.strip())
    rest, _, query = rest.partition("?")
    rest, _, _fragment = rest.partition("#")
    userinfo, at, hostpart = rest.rpartition("@")
    if not at:
        userinfo, hostpart = "", rest
    hostlist, slash, path = hostpart.partition("/")
    db = _db(slash + path, mode)
    if "db" in parse_qs(query):
        db = _db(parse_qs(query)["db"][0], mode)
    hosts = tuple(_host_port(item.strip(), _DEFAULT_PORTS[mode]) for item in hostlist.split(","))
    if mode == "single" and len(hosts) > 1:
        raise RedisUrlError(
            "several hosts in a single-mode URL: set GATEHOUSE_REDIS_MODE=sentinel or cluster"
        )
    username, _, password = userinfo.partition(":")
    if mode == "sentinel" and not service:
        raise RedisUrlError(
            "sentinel mode needs the primary's service name (GATEHOUSE_REDIS_SENTINEL_SERVICE)"
        )
    options = parse_qs(query)
    sentinel_password = options.get("sentinel_password", [None])[0]
    return RedisTarget(
        mode=mode,
        url=url.strip(),
        hosts=hosts,
        db=db,
        username=unquote(username) or None,
        password=unquote(password) or None,
        tls=scheme in ("rediss", "valkeys"),
        service=service,
        sentinel_password=unquote(sentinel_password) if sentinel_password else None,
    )
