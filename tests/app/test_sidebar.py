"""The sidebar: which models are offered, uploads, the missing-checkpoint message, page links."""

from __future__ import annotations

import shutil

from viz_app.backend.registry import SESSION_MODELS_KEY, ModelEntry

from .app_helpers import assert_clean, charts, texts


def test_no_checkpoints_is_a_message_not_a_traceback(make_app, tmp_path):
    empty = tmp_path / "checkpoints"
    empty.mkdir()
    for page in ("views/attention.py", "views/sharpness.py", "views/residual.py"):
        at = make_app(empty).run()
        at.switch_page(page).run()
        assert not at.exception
        assert "No model to look at yet" in texts(at.info)
        assert "No `.safetensors` checkpoints" in texts(at.sidebar.warning)


def test_the_default_model_is_shakespeare_small_when_present(make_app, tmp_path, tiny_ckpt):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in ("another.safetensors", "shakespeare-small.safetensors", "zz.safetensors"):
        shutil.copy2(tiny_ckpt, folder / name)
    at = make_app(folder).run()
    assert_clean(at)
    assert at.sidebar.selectbox(key="model").value == "shakespeare-small"
    assert at.sidebar.selectbox(key="model").options == ["shakespeare-small", "another", "zz"]


def test_pages_open_on_their_own_model_until_the_session_chooses_one(make_app, tmp_path, tiny_ckpt):
    """The Lesson opens on the lecture's model and Induction on the model with induction heads; the
    other pages on the default; once the picker chose, every page keeps that choice."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in ("shakespeare-small", "shakespeare-lecture", "python-small"):
        shutil.copy2(tiny_ckpt, folder / f"{name}.safetensors")
    at = make_app(folder).run()
    assert_clean(at)
    model = lambda: at.sidebar.selectbox(key="model").value  # noqa: E731
    assert model() == "shakespeare-small"
    for page, wanted in (
        ("lesson", "shakespeare-lecture"),
        ("induction", "python-small"),
        ("attention", "shakespeare-small"),
    ):
        at.switch_page(f"views/{page}.py").run()
        assert_clean(at)
        assert model() == wanted, page
    at.sidebar.selectbox(key="model").set_value("python-small").run()
    for page in ("lesson", "sharpness"):
        at.switch_page(f"views/{page}.py").run()
        assert model() == "python-small", page
    linked = make_app(folder, model="shakespeare-small").run()  # a link that names a model chose it
    linked.switch_page("views/lesson.py").run()
    assert linked.sidebar.selectbox(key="model").value == "shakespeare-small"


def test_a_broken_checkpoint_is_reported_by_name(make_app, tmp_path, tiny_ckpt):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy2(tiny_ckpt, folder / "good.safetensors")
    (folder / "broken.safetensors").write_bytes(b"\x00" * 64)
    at = make_app(folder, model="broken").run()
    assert not at.exception
    assert at.sidebar.selectbox(key="model").value == "broken"
    assert "broken.safetensors" in texts(at.error)
    at.sidebar.selectbox(key="model").set_value("good").run()
    assert_clean(at)
    assert charts(at)


def test_an_uploaded_checkpoint_becomes_selectable(make_app, tiny_ckpt):
    at = make_app().run()
    at.sidebar.file_uploader(key="upload").upload("mine.safetensors", tiny_ckpt.read_bytes())
    at.run()
    assert_clean(at)
    picker = at.sidebar.selectbox(key="model")
    assert picker.value == "mine (uploaded)" and "tiny" in picker.options
    assert charts(at)


def test_an_upload_that_is_not_a_checkpoint_gets_a_clear_message(make_app):
    at = make_app().run()
    at.sidebar.file_uploader(key="upload").upload("notes.safetensors", b"this is not a checkpoint")
    at.run()
    assert not at.exception
    assert "notes.safetensors" in texts(at.sidebar.error)
    assert at.sidebar.selectbox(key="model").value == "tiny"  # the app goes on with the model it had


def test_models_trained_in_this_session_are_offered(make_app, tiny_ckpt):
    at = make_app()
    entry = ModelEntry("fresh (trained here)", str(tiny_ckpt), "trained")  # what the Train page registers
    at.session_state[SESSION_MODELS_KEY] = {entry.label: entry}
    at.run()
    assert "fresh (trained here)" in at.sidebar.selectbox(key="model").options
    at.sidebar.selectbox(key="model").set_value("fresh (trained here)").run()
    assert_clean(at)
    assert at.query_params["model"] == "fresh (trained here)"


def test_a_link_to_another_page_opens_it(make_app):
    at = make_app(page="sharpness", head="1").run()
    assert_clean(at)
    assert [h.value for h in at.header] == ["Sharpness"]
    assert at.segmented_control(key="head").value == 1
    assert at.query_params["page"] == "sharpness"


def test_choices_survive_a_visit_to_another_page(make_app):
    at = make_app().run()
    at.segmented_control(key="head").set_value(1)
    at.segmented_control(key="scale").set_value("n_embd").run()
    at.switch_page("views/residual.py").run()  # no head picker here
    assert_clean(at)
    assert at.query_params["head"] == "1" and at.query_params["scale"] == "n_embd"
    at.switch_page("views/attention.py").run()
    assert at.segmented_control(key="head").value == 1 and at.segmented_control(key="scale").value == "n_embd"


def test_a_bigram_checkpoint_gets_a_note_instead_of_attention(make_app, tmp_path, bigram_ckpt):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy2(bigram_ckpt, folder / "bigram.safetensors")
    at = make_app(folder).run()
    assert not at.exception
    assert "bigram model" in texts(at.info) and not charts(at)
    assert "Bigram table" in texts(at.sidebar.caption)
    at.switch_page("views/residual.py").run()
    assert not at.exception and "no residual stream" in texts(at.info)
    at.switch_page("views/sharpness.py").run()
    assert not at.exception and "bigram model" in texts(at.info)
    assert len(charts(at)) == 1  # the variance demo needs no attention
