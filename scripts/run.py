"""`make run`: migrate, seed the demo, then web + websockets (uvicorn, config.server), Celery workers, beat, the audit
sealer and the FIX gateway (manage.py fix_gateway on FIX_PORT, default 9878) together.

Ctrl-C stops all of them. PostgreSQL and Redis are found or started by config.runtime.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import runtime, server  # noqa: E402


def main() -> int:
    runtime.configure()
    runtime.ensure_secret_key()  # kept in .data/secret_key; SECRET_KEY in the environment wins
    # Every line of every process in .data/logs/<process>.log; the console only what a person needs (config/logs.py).
    env = dict(os.environ, PYTHONUNBUFFERED="1", LOG_NAME="manage")
    env.setdefault("LOG_DIR", str(runtime.DATA_DIR / "logs"))
    host = env.get("HOST", "127.0.0.1")
    port = env.get("PORT", "8000")
    fix_port = env.get("FIX_PORT", "9878")
    py = sys.executable
    bindir = Path(py).parent
    subprocess.run([py, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True)
    seed = subprocess.run([py, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    (ROOT / ".data").mkdir(exist_ok=True)
    procs = {
        "web": server.command(host, port, python=py),
        # WORKERS single-process workers: each owns the instrument-days it ticks and keeps their markets in its memory
        # (a prefork worker's children would share one name and queue and rebuild as ticks alternate between them).
        **{f"worker{k}": [str(bindir / "celery"), "-A", "config", "worker", "-l", "info", "--pool", "solo", "-n", f"w{k}@%h"]
           for k in range(1, int(env.get("WORKERS", "2")) + 1)},
        "beat": [str(bindir / "celery"), "-A", "config", "beat", "-l", "info", "--schedule", str(ROOT / ".data" / "celerybeat-schedule")],
        # The audit sealer polls every AUDIT_SEAL_POLL_S in a process of its own: on a solo worker it would hold up the ticks.
        "sealer": [py, "manage.py", "audit_sealer"],
        # FIX 4.4 order entry (QuickFIX engine) for the sessions of `manage.py fix_session list`.
        "fix": [py, "manage.py", "fix_gateway", "--port", fix_port],
    }
    running = {name: subprocess.Popen(cmd, cwd=ROOT, env=dict(env, LOG_NAME=name)) for name, cmd in procs.items()}
    time.sleep(2)
    # Today's demo orders go through the OMS like any other: the worker aggregates and works them.
    demo = subprocess.run([py, "manage.py", "demo_orders"], cwd=ROOT, env=env, capture_output=True, text=True)
    print("\n" + "=" * 72)
    print(f"Smart Trading OMS/EMS is running at  http://{host}:{port}/")
    print(f"  API docs  http://{host}:{port}/api/docs/     admin  http://{host}:{port}/admin/")
    print(f"  database  {runtime_safe(env['DATABASE_URL'])}     redis  {env['REDIS_URL']}")
    print(seed.stdout.rstrip())
    print(demo.stdout.rstrip() or "Demo orders not submitted: " + (demo.stderr.strip().splitlines() or ["?"])[-1])
    print(f"  trader desk  http://{host}:{port}/desk/execution/   (log in as trader)")
    print(f"  FIX gateway  port {fix_port} (sessions: manage.py fix_session list; README \"FIX connectivity\")")
    print(f"  logs  {env['LOG_DIR']}/<web|worker1|beat|sealer|fix>.log (the console shows warnings, errors and start-up)")
    print("Ctrl-C stops web, workers, beat, the sealer and the FIX gateway.")
    print("=" * 72 + "\n", flush=True)

    def stop(*_):
        for p in running.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in running.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while True:
        for name, p in running.items():
            if p.poll() is not None:
                print(f"{name} exited with {p.returncode}; stopping the rest", flush=True)
                stop()
        time.sleep(1)


def runtime_safe(url: str) -> str:
    return url.split("@")[-1] if "@" in url else url


if __name__ == "__main__":
    sys.exit(main())
