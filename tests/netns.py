"""Running a command with no network but loopback and a resolver that logs every look-up.

`unshare -n -m` gives the command a network namespace of its own (only loopback) and a
mount namespace in which /etc/resolv.conf names 127.0.0.1, where a small DNS server
writes each queried name to a file and answers "no such name". Anything that tries to
reach the internet (telemetry, update checks, model downloads) shows up as a look-up.
Needs root (or user namespaces) and util-linux's unshare; `netns_available()` says.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

_RESOLVER = """
import os, socket, sys
log = open(sys.argv[1], "a", buffering=1)
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(("127.0.0.1", 53))
server.settimeout(0.5)
parent = os.getppid()
open(sys.argv[2], "w").close()  # ready
while os.getppid() == parent:  # ends with the shell that started it, however that ended
    try:
        query, peer = server.recvfrom(4096)
    except socket.timeout:
        continue
    i, labels = 12, []
    while i < len(query) and query[i]:
        labels.append(query[i + 1 : i + 1 + query[i]].decode(errors="replace"))
        i += 1 + query[i]
    log.write(".".join(labels) + "\\n")
    server.sendto(query[:2] + b"\\x81\\x83" + query[4:6] + b"\\x00" * 6 + query[12 : i + 5], peer)  # NXDOMAIN
"""


def netns_available() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "-m", "true"], capture_output=True, check=False)
    return probe.returncode == 0


def run_offline(command: list[str], workdir: Path, env: dict[str, str], timeout: float) -> tuple[int, list[str], str]:
    """Exit status of `command` run in the namespace, the names it looked up and its stderr."""
    resolver = workdir / "resolver.py"
    resolver.write_text(_RESOLVER)
    resolv_conf = workdir / "resolv.conf"
    resolv_conf.write_text("nameserver 127.0.0.1\n")
    log, ready = workdir / "lookups.log", workdir / "resolver.ready"
    log.write_text("")
    script = f"""
set -e
ip link set lo up
mount --bind {shlex.quote(str(resolv_conf))} /etc/resolv.conf
{shlex.quote(sys.executable)} {shlex.quote(str(resolver))} {shlex.quote(str(log))} {shlex.quote(str(ready))} &
resolver=$!
trap 'kill $resolver 2>/dev/null' EXIT  # also when the command times out and bash is ended
for _ in $(seq 50); do [ -e {shlex.quote(str(ready))} ] && break; sleep 0.1; done
set +e
{shlex.join(command)}
exit $?
"""
    done = subprocess.run(
        ["unshare", "-n", "-m", "bash", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, [line for line in log.read_text().splitlines() if line], done.stderr
