"""A local Prefect server for ``make serve`` and the deployment tests: SQLite database under the
given home folder, bound to 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    """A free TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


LOCALHOST = "127.0.0.1"


def server_env(home: Path, port: int, host: str = LOCALHOST) -> dict[str, str]:
    """Environment of a server (and its clients) with its database under ``home``; it listens on
    ``host`` (localhost unless exposed on purpose: the server has no authentication)."""
    client_host = LOCALHOST if host in ("0.0.0.0", "::") else host  # noqa: S104
    return {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_API_HOST": host,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_API_URL": f"http://{client_host}:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }


@contextmanager
def local_server(
    home: Path, port: int | None = None, timeout: float = 180, host: str = LOCALHOST
) -> Iterator[str]:
    """Start ``prefect server start`` on ``host`` (127.0.0.1 by default) and yield its API URL;
    stop it on exit."""
    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    env = server_env(home, port, host)
    log_path = home / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "prefect"), "server", "start",
             "--host", host, "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = env["PREFECT_API_URL"]
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    tail = log_path.read_text()[-2000:]
                    raise RuntimeError(f"prefect server exited ({proc.returncode}):\n{tail}")
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"prefect server not healthy after {timeout} s ({log_path})")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
