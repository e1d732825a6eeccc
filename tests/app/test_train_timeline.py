"""A model trained on the Train page plays on the Timeline page: the run saves its weights at a few
evaluations beside its checkpoint, as `python -m nanogpt train --snapshot_steps` does."""

from __future__ import annotations

from nanogpt.config import make_train_config
from nanogpt.timeline import timeline
from viz_app.backend import train_jobs

from .app_helpers import assert_clean, follow_link, page_links, texts
from .test_train_page import TINY, train_app, upload, wait_for  # noqa: F401  (train_app is a fixture)


def test_the_timeline_plays_a_model_trained_here(train_app, tiny_text):  # noqa: F811
    at = train_app(**TINY, tr_steps="12", tr_eval_every="4")
    at = upload(at, tiny_text.encode())
    at.button(key="tr_start").click().run()
    at = wait_for(at, lambda v: not v.active)
    at.run()
    view = at.session_state[train_jobs.JOB_KEY].view()
    assert view.status == "done"
    frames = timeline(view.checkpoint)
    assert [f.step for f in frames][0] == 0 and frames[-1].is_best and len(frames) >= 3
    at = follow_link(at, *page_links(at, "Look at it")[0])  # the trained model in the sidebar
    at.switch_page("views/timeline.py").run()
    assert_clean(at)
    assert "has no training timeline" not in texts(at.info)
    slider = at.select_slider(key="tl_step")
    assert [int(o.split()[-1].replace(",", "")) for o in slider.options] == [f.step for f in frames]
    at.select_slider(key="tl_step").set_value(frames[-1].step).run()
    assert_clean(at)
    assert "(best)" in at.metric[0].value


def test_the_saved_steps_are_evaluations_spread_over_the_run_within_a_disk_budget():
    steps = train_jobs.timeline_steps(make_train_config("baby", max_iters=400, eval_interval=10))
    assert steps[0] == 0 and len(steps) <= train_jobs.TIMELINE_FRAMES and steps[-1] == 400
    assert all(s % 10 == 0 for s in steps) and steps == sorted(set(steps))
    lecture = make_train_config("lecture")
    n_bytes = 2 * 12 * lecture.model.n_layer * lecture.model.n_embd**2  # fp16 weights of the blocks alone
    assert len(train_jobs.timeline_steps(lecture)) * n_bytes <= train_jobs.TIMELINE_BYTES
    assert train_jobs.timeline_steps(make_train_config("bigram")) == []  # no attention to watch form
