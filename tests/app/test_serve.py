"""make serve (viz_app/serving/serve.py): app processes behind a real nginx, each browser kept on one process
by a cookie nginx sets (or its full address), and a process killed mid-class."""

from __future__ import annotations

import os
import re
import subprocess
import urllib.request
from pathlib import Path

import newcomer
import pytest

from viz_app.bench.__main__ import main
from viz_app.serving import app_process, serve


def require_nginx() -> str:
    """Skip on a machine without nginx; in CI (where make test installs Debian's) fail."""
    found = serve.find_nginx()
    if found is None:
        message = "needs Debian's nginx (make test and make serve install it: apt-get install nginx)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    return found


def test_the_config_hashes_the_cookie_or_the_whole_address_and_keeps_the_websocket_open(tmp_path):
    conf = serve.nginx_config(tmp_path, "127.0.0.1:8501", [9001, 9002])
    assert "ip_hash" not in conf  # three octets: a room on one /24 would land on one process
    assert "hash $lab_key consistent;" in conf
    assert re.search(r"map \$cookie_attention_lab_worker \$lab_key \{\s*'' \$remote_addr;", conf)
    assert "attention_lab_worker=$request_id; Path=/; HttpOnly; SameSite=Lax" in conf
    stream = conf.split("location /_stcore/stream", 1)[1].split("}", 1)[0]
    for line in ("proxy_set_header Upgrade $http_upgrade;", "proxy_set_header Connection $connection_upgrade;",
                 "proxy_read_timeout 1d;"):  # fmt: skip
        assert line in stream
    assert "client_max_body_size 160m;" in conf and "proxy_request_buffering off;" in conf
    assert "proxy_max_temp_file_size 0;" in conf  # big responses pass through, never via a temp file
    assert conf.count("server 127.0.0.1:") == 2


def test_nginx_accepts_the_config(tmp_path):
    nginx = require_nginx()
    for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (tmp_path / sub).mkdir(parents=True)
    (tmp_path / "nginx.conf").write_text(serve.nginx_config(tmp_path, "127.0.0.1:8501", [9001, 9002]))
    check = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", "nginx.conf"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


@pytest.mark.slow  # real processes: nginx and two app servers
def test_a_browser_stays_on_one_process_and_browsers_spread(tiny_dir, tmp_path):
    require_nginx()
    from viz_app.bench.proxy import process_of

    env = {"ATTENTION_LAB_CHECKPOINTS": str(tiny_dir), "ATTENTION_LAB_CLASS_DB": str(tmp_path / "classes.sqlite3")}
    with serve.Hall(
        2, app_process.free_port(), "127.0.0.1", run=tmp_path / "run", env=env, log=lambda line: None
    ) as hall:
        with urllib.request.urlopen(f"{hall.url}/") as response:  # the page: nginx sets its cookie
            cookie = response.headers["Set-Cookie"]
        assert cookie.startswith("attention_lab_worker=") and "HttpOnly" in cookie
        cookie = cookie.split(";", 1)[0]
        assert len({process_of(hall, cookie, f"same{i}") for i in range(10)}) == 1  # sticky
        assert {process_of(hall, f"attention_lab_worker={i:032x}", f"other{i}") for i in range(40)} == {0, 1}
        # without a cookie, the whole address decides: the same browser, the same process
        assert len({process_of(hall, "", f"bare{i}") for i in range(5)}) == 1
        # one class store for all; a temp folder (and so an uploads folder) each
        environs = [dict(v.split("=", 1) for v in open(f"/proc/{p.pid}/environ").read().split("\0") if "=" in v)
                    for p in hall.workers]  # fmt: skip
        assert {e["ATTENTION_LAB_CLASS_DB"] for e in environs} == {str(tmp_path / "classes.sqlite3")}
        assert len({e["TMPDIR"] for e in environs}) == 2


@pytest.mark.slow  # real processes: nginx and two app servers, 8 sessions
def test_the_classroom_through_nginx_and_a_process_killed_mid_class(tiny_dir, capsys, quick_bench):
    require_nginx()
    assert main(["classroom", "--sessions", "8", "--workers", "2", "--checkpoints", str(tiny_dir)]) == 0
    out = capsys.readouterr().out
    assert "8 sessions through nginx in front of 2 app processes" in out
    for case in ("same link", "own prompts", "own prompts, layers x heads"):
        line = next(line for line in out.splitlines() if f"] {case}:" in line)
        assert "8/8 sessions finished" in line, line
    assert re.search(r"one new prompt \(100 characters\) on the layers x heads grid: \d+ ms of server CPU", out), out
    assert "follow, one teacher change: 8/8 followers showed it" in out, out
    spread = next(line for line in out.splitlines() if "sessions per app process" in line)
    assert all(int(n) > 0 for n in spread.rsplit(":", 1)[1].split(" / ")), spread
    killed = next(line for line in out.splitlines() if "one app process killed mid-class" in line)
    assert killed.endswith("· ok"), killed  # those on it reconnected with their view, the others never noticed
    assert "server healthy after: yes" in out and "failed" not in out


def test_on_a_newcomers_machine_every_process_shares_the_store_in_the_temp_folder(tmp_path):
    """No ATTENTION_LAB_CLASS_DB: the processes, each with a temp folder of its own, are all handed
    the one store in the temp folder make serve was started with (created when first opened)."""
    require_nginx()
    from viz_app.backend import classes

    with newcomer.as_this_process(tmp_path / "newcomer") as env:
        hall = serve.Hall(2, app_process.free_port(), "127.0.0.1", run=tmp_path / "run", env=env, log=lambda line: None)
    assert hall.env[classes.DB_ENV] == str(Path(env["TMPDIR"]) / "attention-lab" / "classes.sqlite3")
    assert not (Path(env["TMPDIR"]) / "attention-lab").exists()  # nothing made before a class is led
