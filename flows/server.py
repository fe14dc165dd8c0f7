"""A local Prefect server for ``make serve`` and the deployment tests: SQLite database under the
given home folder, bound to 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from flows.processes import GRACE_S, die_with_parent, stop_tree


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
    home: Path,
    port: int | None = None,
    host: str = LOCALHOST,
    grace: float = GRACE_S,
    timeout: float = 180,
) -> Iterator[str]:
    """Start ``prefect server start`` on ``host`` (127.0.0.1 by default) and yield its API URL;
    stop it on exit (SIGTERM, and SIGKILL to whatever of its process tree is left after
    ``grace`` seconds). The server runs in a session of its own, so a terminal's Ctrl-C does not
    stop it before its clients are done, and dies with this process (``PR_SET_PDEATHSIG``)."""
    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    env = server_env(home, port, host)
    cmd = [str(Path(sys.executable).parent / "prefect"), "server", "start",
           "--host", host, "--port", str(port)]  # fmt: skip
    with _serving(cmd, env, home / "server.log", grace, timeout) as url:
        yield url


def configured_api_url() -> str | None:
    """The Prefect API this process would report to, without importing Prefect: its settings
    when already imported, else ``PREFECT_API_URL`` from the environment or the active profile
    (``$PREFECT_HOME/profiles.toml``)."""
    settings = sys.modules.get("prefect.settings")
    if settings is not None:
        return settings.PREFECT_API_URL.value() or None
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml")
    try:
        profiles = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active", "ephemeral")
    url = profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")
    return str(url) if url else None


@contextmanager
def temporary_server(grace: float = GRACE_S, timeout: float = 180) -> Iterator[str]:
    """The API ``make run``'s flow reports to: the configured one (see
    :func:`configured_api_url`), else a temporary server like the one Prefect would start on its
    own (its database under ``PREFECT_HOME``, no UI, no background services) but owned here: in
    a session of its own, so a terminal's Ctrl-C reaches the flow first and the server answers
    until the flow has stopped its stages; stopped last. Enter it before importing Prefect: the
    threads Prefect starts read the API URL from the environment of that moment."""
    url = configured_api_url()
    if url:
        yield url
        return
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",  # what Prefect's own temporary server sets
        "PREFECT__SERVER_FINAL": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
           "--host", LOCALHOST, "--port", str(port), "--log-level", "error",
           "--lifespan", "on"]  # fmt: skip
    with (
        tempfile.TemporaryDirectory(prefix="glassworks-prefect-") as tmp,
        _serving(cmd, env, Path(tmp) / "server.log", grace, timeout, port) as url,
    ):
        os.environ["PREFECT_API_URL"] = url
        try:
            if "prefect.settings" in sys.modules:  # already imported: its settings are fixed
                from prefect.settings import PREFECT_API_URL, temporary_settings

                with temporary_settings(updates={PREFECT_API_URL: url}):
                    yield url
            else:
                yield url
        finally:
            os.environ.pop("PREFECT_API_URL", None)


@contextmanager
def _serving(
    cmd: list[str],
    env: dict[str, str],
    log_path: Path,
    grace: float,
    timeout: float,
    port: int | None = None,
) -> Iterator[str]:
    """Start a server command in a session of its own, wait until ``/api/health`` answers, yield
    its API URL, stop its process tree on exit."""
    url = f"http://{LOCALHOST}:{port}/api" if port else env["PREFECT_API_URL"]
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent,  # noqa: PLW1509
        )  # fmt: skip
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
            stop_tree(proc.pid, grace, signal.SIGTERM, leaves_first=False)
            proc.wait()
