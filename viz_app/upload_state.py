"""Which uploads a session has already taken: a rerun hands back the same st.file_uploader files
every time, and a file must be read (and refused with a message) only once."""

from __future__ import annotations

import streamlit as st


def new_upload(upload, seen_key: str) -> bool | None:
    """Whether an st.file_uploader's file (or list of files) is new this session: True once per file,
    then None while it stays taken, False while it stays refused (see remember_upload)."""
    if not upload:
        return None
    seen = st.session_state.setdefault(seen_key, {})
    if _upload_id(upload) not in seen:
        return True
    return False if seen[_upload_id(upload)] is False else None


def remember_upload(upload, seen_key: str, taken) -> None:
    """Record what became of an upload: what it was registered as, or False when it was refused."""
    st.session_state.setdefault(seen_key, {})[_upload_id(upload)] = taken


def _upload_id(upload) -> str:
    """One file's id, or one id for a set of files (accept_multiple_files): adding a file makes a new set."""
    return "+".join(f.file_id for f in upload) if isinstance(upload, list) else upload.file_id
