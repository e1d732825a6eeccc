"""The class store: which classes are live, the view their teacher shows, who follows, the answers.

One SQLite file in WAL mode that every server process on the host opens (several Streamlit
processes behind a proxy each hold their own sessions, so the class cannot live in one process's
memory). WAL lets the followers' many reads run beside the teacher's writes without blocking.

Nothing personal is stored: a student is a random id made per browser session, a teacher is the
SHA-256 of a random token that only the teacher's browser holds. A class ends when its teacher ends
it, or when no teacher has been seen for CLASS_HOURS_ENV hours; its rows go with it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DB_ENV = "ATTENTION_LAB_CLASS_DB"  # the store's file; default: attention-lab/classes.sqlite3 in the temp folder
CLASS_HOURS_ENV = "ATTENTION_LAB_CLASS_HOURS"  # a class without its teacher for this long is deleted
DEFAULT_CLASS_HOURS = 4.0
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a projector and typed on a phone
CODE_LENGTH = 6
LEAD_ALIVE_S = 20.0  # a teacher tab that polled this recently still leads: a second tab must take over
FOLLOWER_ALIVE_S = 15.0  # a follower that polled this recently counts as following

_SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
    code TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    lead TEXT NOT NULL,            -- the browser session that leads now (a random id)
    state TEXT NOT NULL,           -- JSON: {"view": url_state's link params, "question": ... or null}
    version INTEGER NOT NULL,      -- bumped on every change of state: what followers poll
    teacher_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS followers (
    code TEXT NOT NULL,
    student TEXT NOT NULL,
    seen REAL NOT NULL,
    PRIMARY KEY (code, student)
);
CREATE TABLE IF NOT EXISTS answers (
    code TEXT NOT NULL,
    question TEXT NOT NULL,
    student TEXT NOT NULL,
    choice INTEGER NOT NULL,
    PRIMARY KEY (code, question, student)
);
"""
_ready: set[str] = set()  # database files this process has created the tables in


class ClassStoreError(RuntimeError):
    """The class store cannot be opened (a read-only or full disk, a folder that cannot be made): its
    message is the sentence to show, where the store is and what to set."""


def db_path(environ=None) -> Path:
    """The store's file in `environ` (default: this process's): DB_ENV, or the temp folder's
    attention-lab/classes.sqlite3 (TMPDIR as that environment sets it)."""
    environ = os.environ if environ is None else environ
    configured = environ.get(DB_ENV)
    if configured:
        return Path(configured)
    temp = environ.get("TMPDIR") if environ is not os.environ else None
    return Path(temp or tempfile.gettempdir()) / "attention-lab" / "classes.sqlite3"


def class_hours() -> float:
    try:
        return float(os.environ.get(CLASS_HOURS_ENV, DEFAULT_CLASS_HOURS))
    except ValueError:
        return DEFAULT_CLASS_HOURS


@contextmanager
def _db() -> Iterator[sqlite3.Connection]:
    """A connection for one operation, committed at the end. Opening one costs tens of microseconds,
    less than keeping one per thread: Streamlit runs each script run in a new thread."""
    path = db_path()
    try:
        # the folder first: on a machine where the app never ran, the temp folder has no attention-lab/ yet
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=10, isolation_level=None)
    except (OSError, sqlite3.Error) as e:
        raise _unusable(path, e) from e
    try:
        if str(path) not in _ready:
            con.execute("PRAGMA journal_mode=WAL")  # kept in the file: every process gets it
            con.executescript(_SCHEMA)
            _ready.add(str(path))
        con.execute("PRAGMA synchronous=NORMAL")  # WAL's safe setting: a crash loses at most the last change
        yield con
    except sqlite3.DatabaseError as e:  # read-only, full, locked, not a database
        if isinstance(e, sqlite3.IntegrityError):  # a clash of codes: open_class draws another
            raise
        raise _unusable(path, e) from e
    finally:
        con.close()


def _unusable(path: Path, error: Exception) -> ClassStoreError:
    return ClassStoreError(
        f"The class store {path} cannot be opened ({error}), so no class can start on this server. "
        f"Set {DB_ENV} to a file in a folder this server can write, then restart it; the rest of the app works."
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Opened:
    code: str  # what students type or scan: ?class=CODE
    token: str  # the teacher's secret: ?teach=TOKEN


@dataclass(frozen=True)
class Led:
    code: str
    lead: str
    teacher_seen: float

    def lead_alive(self, now: float | None = None) -> bool:
        return (now or time.time()) - self.teacher_seen < LEAD_ALIVE_S


def new_id() -> str:
    """A random id for a browser session (a student, or a teacher's tab)."""
    return secrets.token_hex(8)


def normal_code(text: str) -> str:
    """A typed code as stored: upper case, no spaces or dashes."""
    return "".join(c for c in text.upper() if c.isalnum())[: CODE_LENGTH * 2]


def open_class(lead: str) -> Opened:
    """A new class, led by the browser session `lead`; also deletes the classes that expired."""
    purge()
    token = secrets.token_urlsafe(24)
    state = json.dumps({"view": {}, "question": None})
    with _db() as con:
        while True:  # 31^6 codes: a clash with a live class is rare, and then another code is drawn
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            try:
                con.execute(
                    "INSERT INTO classes VALUES (?, ?, ?, ?, 1, ?)", (code, _hash(token), lead, state, time.time())
                )
                return Opened(code, token)
            except sqlite3.IntegrityError:
                continue


def by_token(token: str) -> Led | None:
    """The class a teacher link leads, or None (ended, expired, or never made here)."""
    with _db() as con:
        row = con.execute(
            "SELECT code, lead, teacher_seen FROM classes WHERE token_hash = ?", (_hash(token),)
        ).fetchone()
    return Led(*row) if row else None


def claim(token: str, lead: str) -> bool:
    """Make `lead` the session that leads the token's class (a teacher link opened in a new tab)."""
    with _db() as con:
        cur = con.execute(
            "UPDATE classes SET lead = ?, teacher_seen = ? WHERE token_hash = ?", (lead, time.time(), _hash(token))
        )
    return cur.rowcount == 1


def publish(code: str, token: str, lead: str, state: dict) -> int | None:
    """Write what the teacher shows; the new version, or None when this session no longer leads."""
    with _db() as con:
        row = con.execute(
            "UPDATE classes SET state = ?, version = version + 1, teacher_seen = ? "
            "WHERE code = ? AND token_hash = ? AND lead = ? RETURNING version",
            (json.dumps(state, sort_keys=True), time.time(), code, _hash(token), lead),
        ).fetchone()
    return row[0] if row else None


def teacher_here(code: str, token: str, lead: str) -> bool:
    """The teacher's tab is still open (its poll): keeps the class alive; False when it no longer leads."""
    with _db() as con:
        cur = con.execute(
            "UPDATE classes SET teacher_seen = ? WHERE code = ? AND token_hash = ? AND lead = ?",
            (time.time(), code, _hash(token), lead),
        )
    return cur.rowcount == 1


def version(code: str) -> int | None:
    """What a follower polls: one indexed read. None: no such class (ended, expired, mistyped)."""
    with _db() as con:
        row = con.execute("SELECT version FROM classes WHERE code = ?", (code,)).fetchone()
    return row[0] if row else None


def state(code: str) -> tuple[int, dict] | None:
    """(version, {"view": ..., "question": ...}) of a live class, or None."""
    with _db() as con:
        row = con.execute("SELECT version, state FROM classes WHERE code = ?", (code,)).fetchone()
    return (row[0], json.loads(row[1])) if row else None


def here(code: str, student: str) -> None:
    """A follower's poll: counts it as following for FOLLOWER_ALIVE_S."""
    with _db() as con:
        con.execute(
            "INSERT INTO followers VALUES (?, ?, ?) ON CONFLICT (code, student) DO UPDATE SET seen = excluded.seen",
            (code, student, time.time()),
        )


def followers(code: str) -> int:
    """How many students polled in the last FOLLOWER_ALIVE_S."""
    with _db() as con:
        row = con.execute(
            "SELECT count(*) FROM followers WHERE code = ? AND seen > ?", (code, time.time() - FOLLOWER_ALIVE_S)
        ).fetchone()
    return row[0]


def answer(code: str, question: str, student: str, choice: int) -> bool:
    """Record (or change) a student's answer while the question is open; False when it is not."""
    current = state(code)
    asked = current[1].get("question") if current else None
    if not asked or asked.get("id") != question or asked.get("revealed") or not 0 <= choice < len(asked["choices"]):
        return False
    with _db() as con:
        con.execute(
            "INSERT INTO answers VALUES (?, ?, ?, ?) "
            "ON CONFLICT (code, question, student) DO UPDATE SET choice = excluded.choice",
            (code, question, student, choice),
        )
    return True


def tally(code: str, question: str, n_choices: int) -> list[int]:
    """How many students picked each choice."""
    counts = [0] * n_choices
    with _db() as con:
        rows = con.execute(
            "SELECT choice, count(*) FROM answers WHERE code = ? AND question = ? GROUP BY choice", (code, question)
        ).fetchall()
    for choice, count in rows:
        if 0 <= choice < n_choices:
            counts[choice] = count
    return counts


def _delete(con: sqlite3.Connection, codes: list[str]) -> None:
    for table in ("answers", "followers", "classes"):
        con.executemany(f"DELETE FROM {table} WHERE code = ?", [(c,) for c in codes])


def end(code: str, token: str) -> bool:
    """The teacher ends the class: every row of it is deleted."""
    with _db() as con:
        row = con.execute("SELECT 1 FROM classes WHERE code = ? AND token_hash = ?", (code, _hash(token))).fetchone()
        if row:
            _delete(con, [code])
    return bool(row)


def purge(now: float | None = None) -> int:
    """Delete the classes whose teacher has not been seen for class_hours(); how many."""
    cutoff = (now or time.time()) - class_hours() * 3600
    with _db() as con:
        codes = [c for (c,) in con.execute("SELECT code FROM classes WHERE teacher_seen < ?", (cutoff,))]
        if codes:
            _delete(con, codes)
    return len(codes)
