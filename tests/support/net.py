"""Free loopback ports for tests. Only 127.0.0.0/8 is ever used."""

from __future__ import annotations

import socket


def free_port(kind: int = socket.SOCK_DGRAM, host: str = "127.0.0.1") -> int:
    """Return a port free for both UDP and TCP on `host` right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
        try:
            with socket.socket(socket.AF_INET, other) as s2:
                s2.bind((host, port))
        except OSError:
            continue
        return int(port)
    raise RuntimeError("no free port found")


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """Return n distinct free ports."""
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port(host=host))
    return sorted(ports)


def free_block(n: int, host: str = "127.0.0.1") -> int:
    """Return a base port such that base+1 .. base+n are all free (UDP and TCP)."""
    import random

    for _ in range(200):
        base = random.randint(20000, 60000 - n - 1)
        ok = True
        for p in range(base + 1, base + n + 1):
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    try:
                        s.bind((host, p))
                    except OSError:
                        ok = False
                        break
            if not ok:
                break
        if ok:
            return base
    raise RuntimeError(f"no block of {n} free ports found")
