"""Load and CPU for the bench scripts: wrk (or a Python fallback) against one
URL, and the CPU seconds of the processes that served it, read from /proc.

Knows nothing of gatehouse: a path, a body, headers, and process ids.
"""

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.gunicorn import request  # noqa: E402

WRK_THREADS = int(os.environ.get("BENCH_WRK_THREADS", "2"))


@dataclass
class Load:
    """What one load run reported."""

    rps: float
    requests: int
    non_2xx: int  # HTTP answers outside 2xx/3xx
    socket_errors: int  # connect/read/write errors and timeouts: no answer at all
    # Per-request header values sent a second time (the files ran out): 0 unless header_files.
    values_reused: int = 0

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def wrk_parse(output: str) -> Load:
    """Read requests/s, the request count, non-2xx answers and socket errors from wrk's output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in ", output)
    if rps is None or total is None:
        raise ValueError(f"not wrk output: {output!r}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return Load(
        rps=float(rps.group(1)),
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(map(int, sockets.groups())) if sockets else 0,
    )


def load_tool() -> str:
    """``"wrk"`` when wrk is installed, else ``"python"`` (the fallback generator)."""
    return "wrk" if shutil.which("wrk") else "python"


def load_run(
    port: int,
    path: str,
    *,
    body: dict,
    headers: dict[str, str],
    seconds: int,
    connections: int,
    header_files: dict[str, str] | None = None,
) -> Load:
    """POST ``body`` to ``path`` for ``seconds`` with wrk (``connections``
    connections), or without wrk from up to 8 Python client processes.

    ``header_files`` (header name -> file of values, one a line) gives a
    header a new value on every request: each wrk thread (or Python client)
    takes every n-th line, so no value is sent twice until a thread has used
    all of its share; then it starts again from its first, and
    ``Load.values_reused`` counts the requests that repeated a value."""
    files = header_files or {}
    if load_tool() == "wrk":
        return _wrk(port, path, body, headers, files, seconds=seconds, connections=connections)
    clients = python_clients(connections)
    return _python_load(port, path, body, headers, files, seconds=seconds, clients=clients)


def python_clients(connections: int) -> int:
    """How many processes the fallback generator runs: beyond 8 they only fight for the CPUs."""
    return min(connections, 8)


# Per-request header values for wrk: setup() numbers the threads, init()
# reads this thread's share of each file (every n-th line), request() sends
# the next one, done() adds up how often a thread ran out and started again.
WRK_HEADER_FILES = """
local files = %(files)s
local thread_count = %(threads)d
local threads, numbered = {}, 0
function setup(thread)
  thread:set("id", numbered)
  numbered = numbered + 1
  table.insert(threads, thread)
end
local values, sent, count = {}, 0, 0
function init(args)
  for name, path in pairs(files) do
    local share, line_number = {}, 0
    for line in io.lines(path) do
      if line_number %% thread_count == id then table.insert(share, line) end
      line_number = line_number + 1
    end
    values[name] = share
    count = #share
  end
  reused = 0
end
function request()
  sent = sent + 1
  if sent > count then reused = reused + 1 end
  local position = (sent - 1) %% count + 1
  for name, share in pairs(values) do wrk.headers[name] = share[position] end
  return wrk.format()
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("reused") end
  io.write(string.format("Header values reused: %%d\\n", total))
end
"""


def values_reused(output: str) -> int:
    """How many per-request header values wrk sent a second time (0 without header files)."""
    reused = re.search(r"Header values reused: (\d+)", output)
    return int(reused.group(1)) if reused else 0


def _wrk(
    port: int,
    path: str,
    body: dict,
    headers: dict[str, str],
    header_files: dict[str, str],
    *,
    seconds: int,
    connections: int,
) -> Load:
    threads = min(WRK_THREADS, connections)
    script = "wrk.method = 'POST'\n" + f"wrk.body = {json.dumps(json.dumps(body))}\n"
    for name, value in {"Content-Type": "application/json", **headers}.items():
        script += f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}\n"
    if header_files:
        files = ", ".join(
            f"[{json.dumps(name)}] = {json.dumps(path)}" for name, path in header_files.items()
        )
        script += WRK_HEADER_FILES % {"files": "{" + files + "}", "threads": threads}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    try:
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", lua.name]
        output = subprocess.run(
            [*command, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
        ).stdout
    finally:
        os.unlink(lua.name)
    load = wrk_parse(output)
    load.values_reused = values_reused(output)
    return load


def _python_load(
    port: int,
    path: str,
    body: dict,
    headers: dict[str, str],
    header_files: dict[str, str],
    *,
    seconds: int,
    clients: int,
) -> Load:
    shares = [
        {
            name: Path(file).read_text().splitlines()[n::clients]
            for name, file in header_files.items()
        }
        for n in range(clients)
    ]
    with ProcessPoolExecutor(max_workers=clients) as pool:
        results = list(
            pool.map(
                _python_client, [(port, path, body, headers, share, seconds) for share in shares]
            )
        )
    ok, non_2xx, failed, reused = (sum(column) for column in zip(*results, strict=True))
    return Load(
        rps=(ok + non_2xx) / seconds,
        requests=ok + non_2xx,
        non_2xx=non_2xx,
        socket_errors=failed,
        values_reused=reused,
    )


def _python_client(args: tuple) -> tuple[int, int, int, int]:
    port, path, body, headers, share, seconds = args
    ok = non_2xx = failed = sent = 0
    count = min((len(values) for values in share.values()), default=0)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if count:
            headers = {**headers, **{name: values[sent % count] for name, values in share.items()}}
        sent += 1
        try:
            status = request(port, "POST", path, body, headers)[0]
        except OSError:
            failed += 1
            continue
        if 200 <= status < 400:
            ok += 1
        else:
            non_2xx += 1
    return ok, non_2xx, failed, max(0, sent - count) if count else 0


# --- CPU by process -----------------------------------------------------------


def cpu_by_process(server_group: int, database: str) -> dict[tuple[str, str], float]:
    """(group, pid) -> CPU seconds so far: this bench's gunicorn (its process
    group), the PostgreSQL backends serving ``database`` (none when it is
    empty: an embedded SQLite file), and Redis. The machine is shared: other
    engineers' servers and databases are left out, but Redis is one process
    for everyone."""
    seconds = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, UnicodeDecodeError):
            continue  # the process ended meanwhile
        if int(fields[2]) == server_group:
            group = "server"
        elif database and command.startswith("postgres: ") and f" {database} " in command:
            group = "postgres"
        elif "redis-server" in command:
            group = "redis"
        else:
            continue
        seconds[group, pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return seconds


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used (all CPUs, /proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU seconds of this script's finished children: wrk, or the Python clients."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
