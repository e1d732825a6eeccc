"""The Train page: a real (tiny) training run in the background, Stop, the model in the sidebar, bad uploads."""

from __future__ import annotations

import time

import numpy as np
import pytest

from nanogpt.__main__ import main as cli
from nanogpt.checkpoint import load_checkpoint, read_metadata
from viz_app.backend import train_jobs, uploads

from .app_helpers import PROMPT, array, assert_clean, charts, follow_link, heatmaps, page_links, texts

TINY = dict(tr_data="upload", tr_layers="1", tr_heads="2", tr_embd="16", tr_block="16", tr_eval_iters="2",
            tr_batch="4", tr_lr="0.003")  # fmt: skip


@pytest.fixture
def train_app(make_app, monkeypatch, tmp_path):
    """open(**params) -> the Train page; every run it starts is stopped at the end of the test."""
    monkeypatch.setattr(train_jobs, "TRAIN_DIR", tmp_path / "trained")
    monkeypatch.setattr(uploads, "UPLOAD_DIR", tmp_path / "uploads")
    monkeypatch.setenv(train_jobs.MAX_RUNNING_ENV, "4")
    opened = []

    def open_train(**params):
        at = make_app(**params).run()
        at = at.switch_page("views/train.py").run()
        opened.append(at)
        return at

    yield open_train
    for at in opened:
        job = at.session_state[train_jobs.JOB_KEY] if train_jobs.JOB_KEY in at.session_state else None
        if job is not None:
            job.stop()
            job.join(60)


def upload(at, data: bytes, name: str = "verse.txt"):
    at.file_uploader(key="tr_upload").upload(name, data, "text/plain")
    return at.run()


def wait_for(at, predicate, timeout: float = 120.0):
    """Rerun the page (as the fragment's timer would) until predicate(job view) holds."""
    job = at.session_state[train_jobs.JOB_KEY]
    deadline = time.monotonic() + timeout
    while not predicate(job.view()):
        assert time.monotonic() < deadline, f"timed out; the job is {job.view().status}: {job.view().error}"
        time.sleep(0.2)
    return at.run()


def test_a_tiny_run_trains_and_its_model_is_selectable_everywhere(train_app, tiny_text, capsys):
    at = train_app(**TINY, tr_steps="12", tr_eval_every="4")
    assert_clean(at)
    assert at.number_input(key="tr_layers").value == 1 and at.number_input(key="tr_steps").value == 12  # the link
    at = upload(at, tiny_text.encode())
    assert_clean(at)
    at.button(key="tr_start").click().run()
    assert_clean(at)
    at = wait_for(at, lambda v: not v.active)
    at.run()
    assert_clean(at)
    view = at.session_state[train_jobs.JOB_KEY].view()
    assert view.status == "done" and view.step == 12
    assert [e["step"] for e in view.evals] == [0, 4, 8, 12]  # the curve starts at the untrained model
    assert [step for step, _ in view.samples] == [0, 4, 8, 12]  # what the untrained model writes, too
    assert all(len(text) == train_jobs.SAMPLE_CHARS for _, text in view.samples)
    label = "my-baby-1 (trained here)"
    assert label in at.sidebar.selectbox(key="model").options
    assert "It is in the sidebar" in texts(at.success)
    curve = next(f for f in charts(at) if f["layout"].get("title", {}).get("text") == "loss while training")
    assert len(array(curve["data"][0]["y"])) == 12 and list(curve["data"][2]["x"]) == [0, 4, 8, 12]
    assert at.get("download_button")
    # watch attention form: a snapshot of the fixed prompt before training and at evaluations; scrubbing changes it
    steps = [s.step for s in view.snapshots]
    assert steps[0] == 0 and steps[-1] == 12
    grid_last = array(heatmaps(next(f for f in charts(at) if f["layout"]["yaxis"].get("ticktext")))[0]["z"])
    at.select_slider(key="tr_snap").set_value(0).run()
    assert_clean(at)
    grid_first = array(heatmaps(next(f for f in charts(at) if f["layout"]["yaxis"].get("ticktext")))[0]["z"])
    assert grid_first.shape == grid_last.shape and not np.array_equal(grid_first, grid_last)

    # the checkpoint is a normal one: load_checkpoint and the CLI take it
    path = view.checkpoint
    ckpt = load_checkpoint(path)
    assert ckpt.model.config.n_layer == 1 and ckpt.model.config.block_size == 16
    assert read_metadata(path)["data"]["name"].endswith("verse.txt")
    capsys.readouterr()
    assert cli(["sample", "--ckpt", str(path), "--prompt", "First", "--max-new-tokens", "10"]) == 0
    assert capsys.readouterr().out.startswith("First")

    # "Look at it": a link (st.switch_page broke the browser's Back) to the Attention page on it, then every page's
    ((slug, query),) = page_links(at, "Look at it")
    assert slug == query["page"] == "attention" and query["model"] == label
    at = follow_link(at, slug, query)
    assert_clean(at)
    assert [h.value for h in at.header] == ["Attention"]
    assert at.sidebar.selectbox(key="model").value == label
    assert "1 layers × 2 heads" in texts(at.sidebar.caption)
    assert (at.query_params["page"], at.query_params["model"]) == ("attention", label)  # its head, zoom: its own
    at.switch_page("views/sharpness.py").run()
    assert at.sidebar.selectbox(key="model").value == label


def test_stop_keeps_what_was_learned_and_never_freezes_other_sessions(train_app, make_app, tiny_text):
    at = upload(train_app(**TINY, tr_steps="100000", tr_eval_every="100000"), tiny_text.encode())
    at.button(key="tr_start").click().run()
    at = wait_for(at, lambda v: v.step >= 30)
    assert_clean(at)
    assert at.button(key="tr_stop")  # drawn while it trains
    # another student's session, meanwhile: the Attention page runs as usual
    other = make_app().run()
    start = time.monotonic()
    other.run()
    assert_clean(other)
    assert time.monotonic() - start < 30
    assert at.session_state[train_jobs.JOB_KEY].view().status == "running"

    at.button(key="tr_stop").click().run()
    at = wait_for(at, lambda v: not v.active)
    at.run()
    assert_clean(at)
    view = at.session_state[train_jobs.JOB_KEY].view()
    assert view.status == "stopped" and 30 <= view.step < 100000
    meta = read_metadata(view.checkpoint)
    assert meta["step"] == view.step and meta.get("stopped_early")  # the last weights beat the untrained ones
    assert meta["best_val_loss"] < view.evals[0]["val"]
    assert "my-baby-1 (trained here)" in at.sidebar.selectbox(key="model").options
    load_checkpoint(view.checkpoint)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe\x00\x81 not text", "is not UTF-8 text"),
        (b"", "is empty"),
        (b"   \n  ", "is empty"),
        (b"To be, or not to be.\n", "too short for a context of 16"),
    ],
)
def test_bad_uploads_get_a_clear_message(train_app, data, message):
    at = upload(train_app(**TINY, tr_steps="5", tr_eval_every="5"), data, name="notes.txt")
    assert not at.exception
    errors = texts(at.error)
    assert message in errors and "notes.txt" in errors
    assert "/" not in errors.split("notes.txt")[0][-40:]  # the upload's name, not a temp path
    assert at.button(key="tr_start").disabled


def test_settings_that_make_no_model_say_why(train_app, tiny_text):
    at = upload(train_app(**{**TINY, "tr_heads": "3"}, tr_steps="5", tr_eval_every="5"), tiny_text.encode())
    at.button(key="tr_start").click().run()
    assert not at.exception
    assert "must be divisible by n_head" in texts(at.error)
    assert train_jobs.JOB_KEY not in at.session_state


def test_the_preset_fills_the_sizes(train_app):
    at = train_app()
    assert at.number_input(key="tr_layers").value == 4 and at.number_input(key="tr_block").value == 64
    at.selectbox(key="tr_preset").set_value("lecture").run()
    assert_clean(at)
    assert at.number_input(key="tr_layers").value == 6 and at.number_input(key="tr_block").value == 256
    assert at.query_params["tr_preset"] == "lecture" and at.query_params["page"] == "train"
    assert PROMPT  # the sidebar prompt is untouched by this page


def test_the_compute_dtype_reaches_the_run_and_its_checkpoint(train_app, tiny_text):
    at = train_app()
    label = at.selectbox(key="tr_dtype")
    assert label.value == "auto" and "on this server" in label.format_func("auto")
    at = upload(train_app(**TINY, tr_steps="4", tr_eval_every="4", tr_dtype="bfloat16"), tiny_text.encode())
    assert at.selectbox(key="tr_dtype").value == "bfloat16"
    at.button(key="tr_start").click().run()
    job = at.session_state[train_jobs.JOB_KEY]
    assert job.cfg.dtype == "bfloat16"
    at = wait_for(at, lambda v: not v.active)
    view = job.view()
    assert view.status == "done"
    assert read_metadata(view.checkpoint)["compute_dtype"] == "bfloat16"


def test_pythons_own_source_is_offered_as_text_to_train_on(train_app):
    at = train_app(tr_data="python-stdlib")
    assert_clean(at)
    radio = at.radio(key="tr_data")
    assert radio.value == "python-stdlib"
    assert any("Python's own source code" in option for option in radio.options)
