"""`make run`: database, demo data, then web server + Celery worker + beat together.

Uses DATABASE_URL / CELERY_BROKER_URL when set; otherwise starts the embedded
PostgreSQL and Redis (config/embedded.py).  Ctrl-C stops all three.
"""

import os
import signal
import subprocess
import sys
import time

from config.embedded import configure_environment


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    configure_environment()
    py = sys.executable
    manage = [py, "manage.py"]
    for step in (["migrate", "--noinput"], ["load_policies"], ["load_demo"]):
        print("→ manage.py " + " ".join(step), flush=True)
        subprocess.run(manage + step, check=True)
    port = os.environ.get("PORT", "8000")
    children = [
        subprocess.Popen([py, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO",
                          "--concurrency=2", "-n", "worker@%h"]),
        subprocess.Popen([py, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO",
                          "--schedule", "var/celerybeat-schedule"]),
        subprocess.Popen(manage + ["runserver", f"127.0.0.1:{port}"]),
    ]
    print(f"\n  Admin:  http://127.0.0.1:{port}/admin/  (logins printed above by load_demo)\n"
          f"  API:    http://127.0.0.1:{port}/api/v1/openapi.json\n  Stop:   Ctrl-C\n", flush=True)

    def stop(*_):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.time() + 10
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                child.kill()

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
