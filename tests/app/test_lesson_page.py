"""The Lesson page: the lecture's steps with measured numbers, samples, and links that open the right view."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from viz_app.backend.ablation_results import RESULTS_FILE
from viz_app.lesson_steps import STEPS

from .ablation_fixtures import as_shown, read_results, results_dir  # noqa: F401  (results_dir is a fixture)
from .app_helpers import PROMPT, assert_clean, figure_titled, follow_link, page_links, texts

LINK = re.compile(r"\[([^\]]+)\]\((\./[^)]*)\)")


def open_lesson(make_app, folder, **params):
    at = make_app(folder, **params).run()
    return at.switch_page("views/lesson.py").run()


def links(at) -> dict[str, tuple[str, dict]]:
    """label -> (url path, query params) of every in-app link on the page."""
    out = {}
    for element in at.markdown:
        for label, href in LINK.findall(str(element.value)):
            parts = urlsplit(href)
            out[label] = (parts.path, dict(parse_qsl(parts.query)))
    return out


def metric(at, label: str):
    return next(m for m in at.metric if m.label == label)


def test_every_step_is_drawn_in_the_lectures_order(make_app, results_dir):  # noqa: F811
    at = open_lesson(make_app, results_dir)
    assert_clean(at)
    assert [h.value for h in at.header] == ["Lesson: the lecture's path"]
    titles = [s.value for s in at.subheader]
    assert titles == [f"{i}. {step.title}" for i, step in enumerate(STEPS, start=1)]
    assert [step.key for step in STEPS] == [
        "bigram", "scale", "one-head", "multi-head", "feed-forward", "residual", "layernorm", "scale-up"
    ]  # fmt: skip
    times = [step.video_seconds for step in STEPS]
    assert times == sorted(times)  # the lecture's order: a class following the video never jumps back


def test_numbers_and_samples_come_from_the_results(make_app, results_dir):  # noqa: F811
    results = read_results(results_dir)["variants"]
    at = open_lesson(make_app, results_dir)
    assert metric(at, "with it · `bigram`").value == f"{results['bigram']['val_loss']:.3f}"
    scale_off = metric(at, "without it · `no-scale`")
    assert scale_off.value == f"{results['no-scale']['val_loss']:.3f}"
    full = [m for m in at.metric if m.label == "with it · `full`"]
    assert len(full) == 6 and {m.value for m in full} == {f"{results['full']['val_loss']:.3f}"}
    # no-scale -> full: the change is full's loss minus no-scale's
    scale_on = full[0]  # the scale step is the first step measured against full
    assert scale_on.delta == f"{results['full']['val_loss'] - results['no-scale']['val_loss']:+.3f}"
    # variants the file lacks are said to be missing, not invented
    assert metric(at, "without it · `no-ffn`").value == "n/a"
    # a whole 6-layer model with one head per layer is not the lecture's lone head: the labels say so
    assert metric(at, "with it · `single-head`").value == "n/a"
    notes = texts(at.caption)
    assert "`single-head` is the whole 6-layer model, 1 wide head per layer" in notes
    assert "the lecture's number is 1 head alone on the embeddings" in notes
    assert "2.4" in {m.value for m in at.metric if m.label == "in the lecture"}
    # every metric label is short enough for a third of the page at 1280 px (a longer one was cut off)
    assert max(len(m.label) for m in at.metric) <= 32, [m.label for m in at.metric]
    assert "Not available: `single-head`" in notes and "`no-ffn` is not in these ablation results" in notes
    samples = [block.value for block in at.code]
    for name in ("bigram", "no-scale", "full"):
        assert as_shown(results[name]["sample"]) in samples
    assert metric(at, "in the lecture").value == "about 2.5"


def test_links_carry_the_views_query_params(make_app, results_dir):  # noqa: F811
    at = open_lesson(make_app, results_dir)
    found = links(at)
    path, query = found["Attention with the scale switched off"]
    assert path == "./" and query == {"page": "attention", "scale": "none", "view": "head", "model": "tiny",
                                      "prompt": PROMPT}  # fmt: skip
    path, query = found["Sharpness with the scale switched off: entropy drops"]
    assert path == "./sharpness" and query["page"] == "sharpness" and query["scale"] == "none"
    (label,) = [k for k in found if k.startswith("Every head of a layer side by side")]
    path, query = found[label]
    assert path == "./" and query["view"] == "layer" and f"(layer {query['layer']}, where" in label
    path, query = found["The line of code behind `no-ffn`, and its loss curve"]
    assert path == "./ablations" and query["page"] == "ablations" and query["ablation_variant"] == "no-ffn"
    assert found["What attention and the MLP each write into the residual stream"][0] == "./residual"
    # "one head" opens the model's most focused head on the prompt, not layer 0 head 0
    (label,) = [k for k in found if k.startswith("One head's weights: each row is a softmax over the past")]
    query = found[label][1]
    assert "most focused head" in label and f"layer {query['layer']} · head {query['head']}" in label


def test_the_links_open_the_view_they_promise(make_app, results_dir):  # noqa: F811
    found = links(open_lesson(make_app, results_dir))
    # each link opened as a new session would open it (a new tab reads the URL)
    at = make_app(results_dir, **found["Attention with the scale switched off"][1]).run()
    assert_clean(at)
    assert [h.value for h in at.header] == ["Attention"]
    assert at.segmented_control(key="scale").value == "none"
    at = make_app(results_dir, **found["Sharpness with the scale switched off: entropy drops"][1]).run()
    assert [h.value for h in at.header] == ["Sharpness"]
    assert at.segmented_control(key="scale").value == "none"
    (layer_link,) = [k for k in found if k.startswith("Every head of a layer side by side")]
    at = make_app(results_dir, **found[layer_link][1]).run()
    assert at.segmented_control(key="view").value == "layer"
    at = make_app(results_dir, **found["The line of code behind `no-ffn`, and its loss curve"][1]).run()
    assert_clean(at)
    assert [h.value for h in at.header] == ["Ablations"]
    assert at.selectbox(key="ablation_variant").value == "no-ffn"


def scale_off_link(at) -> tuple[str, dict[str, str]]:
    """The first "Open here" to a one-head map without the scale (step 2's): (its page, its query)."""
    return next((s, q) for s, q in page_links(at, "Open here") if q.get("scale") == "none" and q.get("view") == "head")


def test_open_here_is_a_link_to_the_view_exactly_as_its_page_writes_it(make_app, results_dir):  # noqa: F811
    at = open_lesson(make_app, results_dir)
    assert not [b for b in at.button if b.label == "Open here"]  # a link: st.switch_page broke the browser's Back
    assert len(page_links(at, "Open here")) == len(links(at))  # one beside every link
    slug, query = scale_off_link(at)
    assert slug == query["page"] == "attention"
    assert query["model"] == "tiny" and query["prompt"] == PROMPT  # this session's model and prompt
    at = follow_link(at, slug, query)
    assert_clean(at)
    assert [h.value for h in at.header] == ["Attention"]
    assert at.segmented_control(key="scale").value == "none"
    assert at.query_params == query  # exactly what the page writes: one history entry, Back returns in one step


def test_a_session_still_to_pick_its_head_gets_a_link_that_names_none(make_app, results_dir):  # noqa: F811
    at = make_app(results_dir, page="lesson").run()  # opened on the Lesson: no page has picked a head yet
    assert [h.value for h in at.header] == ["Lesson: the lecture's path"]
    slug, query = scale_off_link(at)
    assert "layer" not in query and "head" not in query
    at = follow_link(at, slug, query)
    assert_clean(at)
    picked = (at.query_params["layer"], at.query_params["head"])
    assert picked == (str(at.session_state["layer"]), str(at.session_state["head"]))  # Attention picked one
    assert {k: v for k, v in at.query_params.items() if k not in ("layer", "head")} == query


def test_without_results_the_numbers_are_said_to_be_missing(make_app, tiny_dir):
    assert not (tiny_dir / RESULTS_FILE).exists()
    at = open_lesson(make_app, tiny_dir)
    assert_clean(at)
    assert "The measured numbers are not available" in texts(at.info)
    assert {m.value for m in at.metric if m.label.startswith("with")} == {"n/a"}
    assert metric(at, "in the lecture").value == "about 2.5"
    assert len(links(at)) >= len(STEPS)


def test_no_path_of_this_machine_on_the_page(make_app):
    """The shipped results, as a student sees them: named checkpoints/ablations.json, not /home/.../"""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for page in ("views/lesson.py", "views/ablations.py"):
        at = make_app(root / "checkpoints").run().switch_page(page).run()
        assert_clean(at)
        shown = texts(at.markdown) + texts(at.caption) + texts(at.info)
        assert str(root) not in shown, page
        assert page == "views/ablations.py" or "checkpoints/ablations.json" in shown


def test_no_two_steps_open_the_same_view_or_the_same_line_of_code():
    # the focused one-head map is the picture of two steps on purpose (the bigram's question and one
    # head's softmax rows); every other view is one step's own
    hrefs = [link.href() for step in STEPS for link in step.links if not link.focused_head]
    assert len(hrefs) == len(set(hrefs)), hrefs
    code = [step.ablation_link.href() for step in STEPS if step.ablation_link]
    assert len(code) == len(set(code)), code


def test_a_section_link_names_a_subheader_its_page_draws(make_app, results_dir):  # noqa: F811
    """The residual steps each point at their own section of the Residual page, named beside the link;
    the residual step's opens the comparison with the model untrained."""
    sections = [link for step in STEPS for link in step.links if link.section]
    assert len(sections) == len({link.section for link in sections}) == 2
    at = make_app(results_dir, cmp="untrained").run().switch_page("views/residual.py").run()
    assert_clean(at)
    assert figure_titled(at, "mean ‖x‖ over positions")  # the untrained model beside it
    drawn = {h.value for h in at.subheader}
    assert {link.section for link in sections} <= drawn, drawn
    shown = texts(open_lesson(make_app, results_dir).markdown)
    for link in sections:
        assert f"in its section “{link.section}”" in shown


def test_a_layer_link_opens_the_layer_whose_heads_have_jobs():
    from viz_app.views.lesson import _clearest_layer

    tags = [[["uniform"], ["uniform"]], [["previous-token"], []], [["self"], ["first-token"]]]
    entropy = [[0.9, 0.9], [0.2, 0.8], [0.5, 0.6]]
    assert _clearest_layer(tags, entropy) == 2  # two heads with a job beat one sharper head
    assert _clearest_layer([[["self"]], [["self"]]], [[0.5], [0.3]]) == 1  # a tie: the sharper layer


def test_the_video_link_says_it_needs_a_network(make_app, results_dir):  # noqa: F811
    at = open_lesson(make_app, results_dir)
    notes = texts(at.caption)
    assert notes.count("(needs a network; everything else on this page works offline)") == len(STEPS)
