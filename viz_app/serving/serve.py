"""`make serve`: several app processes behind nginx on one port, for a lecture hall.

One Streamlit server is one Python process, and a page run is Python under the GIL: one process
uses about one core however many a machine has. This starts WORKERS processes (`streamlit run
viz_app/app.py`, as `make app` does, each on a private port of 127.0.0.1) and Debian's nginx in
front of them on PORT, as a foreground process of its own with its config, logs and temp folders in a
run folder (never the system service).

A browser's session lives in one process: its websocket (/_stcore/stream), its uploads and the
files it downloads must all reach that process. nginx sends every request of a browser to the same
process by a cookie it sets itself on the first response (COOKIE, a random id: `hash ... consistent`
over it), and by the browser's full address when it sends no cookie (nginx's ip_hash would put a
whole room behind one NAT or on one /24 Wi-Fi subnet on one process: it hashes three octets).
Stickiness by a random id spreads a room evenly; consistent hashing moves only a dead process's
browsers when one dies: nginx finds it refusing connections and passes them on to the next process on
the ring, where their page reconnects and reopens the view its link names; the others never notice.
A dead process is not restarted: its browsers now live on another one, and a new process under
the old address would take their uploads and downloads away from it (the hash would send them
back). The class store (backend/classes.py: one SQLite file in WAL mode) is shared by every process;
each process has a temp folder of its own (TMPDIR), and so its own uploads folder (backend/uploads.py
trims it keeping the files of its own sessions only).

    python -m viz_app.serve [--workers N] [--port 8501] [--host 0.0.0.0] [--run DIR]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import app_process
from .app_process import free_port

ROOT = Path(__file__).resolve().parents[2]
APP = app_process.APP
COOKIE = "attention_lab_worker"  # nginx's own: which process serves this browser (a random id, nothing personal)
STARTUP_S = 180  # a cold start of several processes at once on a busy machine: each imports torch and streamlit
MAX_UPLOAD_MB = 160  # viz_app/.streamlit/config.toml's server.maxUploadSize
NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")

NGINX_CONF = """\
# written by viz_app/serve.py for this run; nginx runs it in the foreground: nginx -p {run} -c nginx.conf
{user}worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
daemon off;

events {{
    worker_connections 4096;
}}

http {{
    log_format lab '$remote_addr [$time_local] "$request" $status $body_bytes_sent $request_time '
                   'upstream=$upstream_addr key=$lab_key';
    access_log {run}/access.log lab;
    client_body_temp_path {run}/tmp/body;
    proxy_temp_path {run}/tmp/proxy;
    fastcgi_temp_path {run}/tmp/fastcgi;
    uwsgi_temp_path {run}/tmp/uwsgi;
    scgi_temp_path {run}/tmp/scgi;
    client_max_body_size {max_body}m;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' close;
    }}
    # which process: the cookie nginx set, or the browser's full address when it sends none
    map $cookie_{cookie} $lab_key {{
        '' $remote_addr;
        default $cookie_{cookie};
    }}
    # set on the first response a browser gets (the page itself), never again
    map $cookie_{cookie} $lab_set_cookie {{
        '' '{cookie}=$request_id; Path=/; HttpOnly; SameSite=Lax';
        default '';
    }}

    upstream attention_lab {{
        hash $lab_key consistent;
{servers}
    }}

    server {{
        listen {listen};
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_connect_timeout 3s;
        proxy_next_upstream error timeout;  # a dead process refuses at once: the next one on the ring answers
        add_header Set-Cookie $lab_set_cookie always;

        # the session's websocket: open for the whole lecture
        location /_stcore/stream {{
            proxy_pass http://attention_lab;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1d;
            proxy_send_timeout 1d;
            proxy_buffering off;
        }}

        # the page, its static files, uploads (streamed through, up to maxUploadSize) and downloads; a
        # response bigger than the buffers (Plotly's 4.7 MB script) is passed on as it comes, never
        # written to a temp file
        location / {{
            proxy_pass http://attention_lab;
            proxy_set_header Connection '';
            proxy_request_buffering off;
            proxy_max_temp_file_size 0;
            proxy_read_timeout 10m;
            proxy_send_timeout 10m;
        }}
    }}
}}
"""


def find_nginx() -> str | None:
    for name in NGINX_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def nginx_config(run: Path, listen: str, worker_ports: list[int], *, max_body_mb: int = MAX_UPLOAD_MB) -> str:
    """nginx.conf for one run: `listen` (e.g. "0.0.0.0:8501") in front of the workers' ports."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in worker_ports)
    # as root, nginx's own workers drop to nobody (they only pass bytes on)
    user = f"user nobody {_nobody_group()};\n" if os.geteuid() == 0 else ""
    return NGINX_CONF.format(run=run, listen=listen, servers=servers, cookie=COOKIE, max_body=max_body_mb, user=user)


def _nobody_group() -> str:
    import grp
    import pwd

    return grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name  # nogroup on Debian


class Hall:
    """The processes of one `make serve`: WORKERS app servers and nginx; stop() ends them all."""

    def __init__(self, workers: int, port: int, host: str = "0.0.0.0", run: Path | None = None,
                 env: dict[str, str] | None = None, app: Path = APP, log=print):  # fmt: skip
        from viz_app.backend import classes

        if workers < 1:
            raise ValueError("--workers must be at least 1")
        self.nginx_bin = find_nginx()
        if self.nginx_bin is None:
            raise RuntimeError("nginx is not installed (make serve installs Debian's: apt-get install nginx)")
        self.run = Path(run or tempfile.mkdtemp(prefix="attention-lab-serve-")).resolve()
        self.host, self.port, self.app, self.log = host, port, Path(app), log
        self.env = dict(os.environ, **(env or {}))
        # one class store for every process, and one cookie secret: a form token one process issued is
        # good at any other (a browser's requests may meet a new process after one dies)
        self.env.setdefault(classes.DB_ENV, str(classes.db_path(self.env)))
        self.env.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_hex(32))
        self.worker_ports = [free_port() for _ in range(workers)]
        self.workers: list[subprocess.Popen] = []
        self.nginx: subprocess.Popen | None = None
        self.reported: set[int] = set()

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{shown}:{self.port}"

    def start(self) -> Hall:
        for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
            (self.run / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # nginx's workers run as nobody: the temp folders are theirs (if ever used)
            import pwd

            nobody = pwd.getpwnam("nobody")
            self.run.chmod(self.run.stat().st_mode | 0o711)  # mkdtemp's 0700 would shut them out
            for sub in ("tmp", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
                os.chown(self.run / sub, nobody.pw_uid, nobody.pw_gid)
        for i, port in enumerate(self.worker_ports):
            # a temp folder of its own, so its uploads folder is its own too: a process trims the uploads
            # folder keeping only the files its own sessions use, and would delete another's
            tmp = self.run / f"worker-{i}-tmp"
            tmp.mkdir(exist_ok=True)
            env = dict(self.env, TMPDIR=str(tmp))
            command = app_process.command(port, "127.0.0.1", self.app)
            out = open(self.run / f"worker-{i}.log", "w")  # noqa: SIM115 (the process keeps it)
            self.workers.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                                 start_new_session=True, preexec_fn=app_process.pin(i)))  # fmt: skip
        deadline = time.monotonic() + STARTUP_S
        for i, port in enumerate(self.worker_ports):
            left = max(deadline - time.monotonic(), 1.0)
            app_process.wait_healthy(f"http://127.0.0.1:{port}", self.workers[i], left, self.run / f"worker-{i}.log")
        listen = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        (self.run / "nginx.conf").write_text(nginx_config(self.run, listen, self.worker_ports))
        check = subprocess.run([self.nginx_bin, "-t", "-q", "-p", str(self.run), "-c", "nginx.conf"],
                               capture_output=True, text=True)  # fmt: skip
        if check.returncode != 0:
            raise RuntimeError(f"nginx refused its config: {check.stderr.strip()}")
        nginx_log = open(self.run / "nginx.out", "w")  # noqa: SIM115
        self.nginx = subprocess.Popen([self.nginx_bin, "-p", str(self.run), "-c", "nginx.conf"], stdout=nginx_log,
                                      stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        while not app_process.healthy(self.url):
            if self.nginx.poll() is not None:
                raise RuntimeError(f"nginx exited ({self.nginx.returncode}): {self._tail('error.log')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not answer on {self.url}: {self._tail('error.log')}")
            time.sleep(0.2)
        return self

    def _tail(self, name: str) -> str:
        path = self.run / name
        return path.read_text()[-2000:] if path.exists() else "(no log)"

    def alive(self) -> list[int]:
        """The app processes still running, by index."""
        return [i for i, p in enumerate(self.workers) if p.poll() is None]

    def watch(self) -> int:
        """Until nginx exits or every app process has: say when one dies (it is not restarted)."""
        while True:
            for i, p in enumerate(self.workers):
                if p.poll() is not None and i not in self.reported:
                    self.reported.add(i)
                    self.log(f"app process {i} (127.0.0.1:{self.worker_ports[i]}) exited ({p.returncode}); its "
                             f"browsers reconnect to the {len(self.alive())} still running")  # fmt: skip
            if self.nginx is None or self.nginx.poll() is not None:
                self.log(f"nginx exited: {self._tail('error.log')}")
                return 1
            if not self.alive():
                self.log("every app process has exited")
                return 1
            time.sleep(0.5)

    def stop(self) -> None:
        for p in ([self.nginx] if self.nginx else []) + self.workers:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)  # its own session: the process and anything it started
        for p in ([self.nginx] if self.nginx else []) + self.workers:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=15)

    def __enter__(self) -> Hall:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m viz_app.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="app processes (default: the number of cores)")  # fmt: skip
    parser.add_argument("--port", type=int, default=8501, help="the one port browsers use (default 8501)")
    parser.add_argument("--host", default="0.0.0.0", help="the address nginx listens on (default: every one)")
    parser.add_argument("--run", default=None, help="the run folder: nginx.conf, logs, temp files (default: a new one)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    hall = Hall(args.workers, args.port, args.host, Path(args.run) if args.run else None,
                log=lambda line: print(f"[serve] {line}", flush=True))  # fmt: skip
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        with hall:
            hall.log(f"{args.workers} app processes behind nginx: {hall.url} (run folder {hall.run})")
            return hall.watch()
    except KeyboardInterrupt:
        return 0
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
