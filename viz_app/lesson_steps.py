"""The Lesson page's text: the lecture's path, one step at a time, written for students.

Each step names the ablation variants that measure it (the model without the piece, and with it)
and the views of the app that show it. Links are plain URLs with the query parameters
viz_app/url_state.py reads when a session starts (page, layer, head, scale, view), so a link opens
the same view in a new tab, or can be sent to a class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .pages import PAGES, href

VIDEO = "https://www.youtube.com/watch?v=kCc8FmEb1nY"
PAGE_PATHS = {slug: info.url_path for slug, info in PAGES.items()}  # slug -> url path ("" for the default page)


@dataclass(frozen=True)
class Link:
    page: str  # a slug of PAGE_PATHS
    label: str
    params: dict[str, str] = field(default_factory=dict)  # url_state.py's URL keys: layer, head, scale, view
    focused_head: bool = False  # the Lesson page adds the model's most focused layer and head (not 0, 0: often uniform)
    clearest_layer: bool = False  # the Lesson page adds the layer whose heads have the clearest jobs (layer 0's rarely)
    # the page's subheader the link is about, named beside the link: a #anchor would not survive, the
    # app rewrites the URL (and drops its fragment) as the page opens
    section: str = ""

    @property
    def script(self) -> str:
        """The page file, for st.page_link."""
        return PAGES[self.page].file

    def href(self, extra: dict[str, str] | None = None) -> str:
        """A relative link to the page's own URL, e.g. './?page=attention&scale=none'."""
        return href(self.page, {"page": self.page, **(extra or {}), **self.params})


@dataclass(frozen=True)
class Question:
    """A prediction the room commits to before the picture answers it (peer instruction): asked in a
    class the teacher leads (viz_app/classroom/), its picture hidden until the teacher reveals it."""

    text: str
    choices: tuple[str, ...]
    answer: int | None  # the index of the right choice; None: a question without one right answer
    explain: str = ""  # shown with the answer


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    video_time: str  # where the lecture builds it, h:mm:ss
    text: str  # markdown, for students
    with_variant: str | None  # the ablation run that has the piece
    without_variant: str | None  # the ablation run that lacks it
    lecture_loss: str | None  # the val loss the lecture reports after this step, as said in the video
    links: tuple[Link, ...]
    extra_variants: tuple[str, ...] = ()  # related variants worth a number too
    note: str = ""  # how the number here is measured, when that needs saying
    with_what: str = ""  # what the with_variant model is, where its name could be misread
    lecture_what: str = ""  # what the lecture's model at this step is, likewise
    question: Question | None = None  # asked before the step's first link (its picture) is shown
    code_variant: str | None = None  # the variant whose line of code shows this step's piece (default: without_variant)

    @property
    def ablation_link(self) -> Link | None:
        """The Ablations page on the variant that lacks this step's piece: its curve and its line of code."""
        variant = self.code_variant or self.without_variant or self.with_variant
        if variant is None or variant == "full":
            return None
        return Link(
            "ablations", f"The line of code behind `{variant}`, and its loss curve", {"ablation_variant": variant}
        )

    @property
    def video_seconds(self) -> int:
        seconds = 0
        for part in self.video_time.split(":"):
            seconds = seconds * 60 + int(part)
        return seconds

    @property
    def video_url(self) -> str:
        return f"{VIDEO}&t={self.video_seconds}s"


ONE_HEAD = {"view": "head", "scale": "head_size"}

STEPS: tuple[Step, ...] = (
    Step(
        key="bigram",
        title="The baseline: a bigram table",
        video_time="0:22:11",
        text=(
            "The first model is a table with one row per character. To guess what comes next it looks only at "
            "the **current** character and reads that row's scores; everything earlier is ignored. It can learn "
            "that `u` tends to follow `q`, and nothing more. Its loss is the number every later step has to beat."
        ),
        with_variant="bigram",
        without_variant=None,
        lecture_loss="about 2.5",
        links=(Link("attention", "A trained head looks much further back than one character", ONE_HEAD, True),),
        note="Its sample has plausible letter pairs, but words rarely hold together: one character of memory is "
        "not enough to spell.",
        question=Question(
            "A bigram table reads only the current character. A trained GPT head, on its last character: where "
            "does its attention go?",
            ("All on the current character, like the bigram", "Spread over earlier characters", "Nowhere: it is 0"),
            1,
            "Self-attention lets a character collect information from every character before it, so the heads of "
            "a trained model look back much further than one character: the lecture's tokens finally talk.",
        ),
    ),
    Step(
        key="scale",
        title="Scaled attention: why divide by √head_size",
        video_time="1:16:56",
        text=(
            "A self-attention head scores every earlier character with a dot product: each character's **query** q "
            "against the others' **keys** k (the next step builds the head around them). "
            "If the entries of q and k have variance 1, their dot product q·k has variance about `head_size`. "
            "Large scores push the softmax towards one-hot: each character copies a single other character, and "
            "the weights it did not pick get almost no gradient. Multiplying by **1/√head_size** brings the "
            "variance back to about 1 and keeps the weights soft while the model learns. The lecture's first draft "
            "multiplied by 1/√n_embd instead, a smaller number, so its weights start flatter than intended."
        ),
        with_variant="full",
        without_variant="no-scale",
        extra_variants=("n_embd-scale",),
        lecture_loss=None,
        links=(
            Link("attention", "Attention with the scale switched off", {"view": "head", "scale": "none"}),
            Link("sharpness", "Sharpness with the scale switched off: entropy drops", {"scale": "none"}),
        ),
        note="The switch on the Attention page changes the scale of a model trained with it; the number here is a "
        "model trained without the scale from the start.",
        question=Question(
            "Remove 1/√head_size from the scores (scale: none). Does the attention get sharper or flatter?",
            ("Sharper: fewer characters get most of the weight", "Flatter: the weight spreads out", "No change"),
            0,
            "Without the scale the scores have a variance of about head_size, and a softmax of large numbers "
            "converges towards one-hot: each character copies one other character. The scale keeps the weights "
            "diffuse, which matters most at initialisation.",
        ),
    ),
    Step(
        key="one-head",
        title="Characters talk: one self-attention head",
        video_time="1:19:18",
        text=(
            "Self-attention lets each position collect information from the positions before it. Every character "
            "emits a **query** (what am I looking for?) and a **key** (what do I hold?). A query's dot product with "
            "each earlier key, through a softmax, gives weights that add up to 1, and the character takes that "
            "weighted average of the earlier characters' **values**. The causal mask hides the future, so the "
            "model cannot peek at the answer. A **position embedding** is added to each character first; without "
            "it a head could not tell the character just before from one far back."
        ),
        with_variant="single-head",
        without_variant="bigram",
        extra_variants=("no-pos-emb",),
        lecture_loss="2.4",
        links=(Link("attention", "One head's weights: each row is a softmax over the past", ONE_HEAD, True),),
        code_variant="no-pos-emb",  # the position embedding's line; bigram's is step 1's
        note="Not like for like: `single-head` is the finished model (6 layers, feed-forward, residuals, LayerNorm) "
        "with one head as wide as the model in each layer, against the bigram table; the lecture's 2.4 is one head "
        "alone on the embeddings. The ablation removes pieces from the final model, it does not rebuild the "
        "lecture in order.",
        with_what="the whole 6-layer model, 1 wide head per layer",
        lecture_what="1 head alone on the embeddings",
        question=Question(
            "Each row of one head's attention map is a softmax over the characters before it. What do the "
            "weights in one row add up to?",
            ("0", "1", "The number of characters in the row", "It depends on the head"),
            1,
            "A softmax gives weights that sum to one, so each character takes a weighted average of the earlier "
            "characters' values. The top-right triangle is the future, masked to 0: information only flows from "
            "the past.",
        ),
    ),
    Step(
        key="multi-head",
        title="Multi-head attention: several narrower heads",
        video_time="1:21:59",
        text=(
            "Instead of one head of size `n_embd`, run several heads of size `n_embd / n_head` side by side and "
            "concatenate what they return. The width stays the same, but there are now several independent "
            "channels of communication: one head can follow the previous character while another looks for the "
            "start of the line or the last vowel."
        ),
        with_variant="full",
        without_variant="single-head",
        lecture_loss="2.28",
        links=(
            Link(
                "attention",
                "Every head of a layer side by side",
                {"view": "layer", "scale": "head_size"},
                clearest_layer=True,
            ),
        ),
        question=Question(
            "A layer has several heads side by side. Do they all look at the same characters?",
            ("Yes: they are copies of one head", "No: each head has its own pattern", "Only the first head looks"),
            1,
            "Each head has its own query, key and value weights: several independent communication channels, "
            "each n_embd / n_head wide. One can follow the previous character while another finds the line's "
            "start.",
        ),
    ),
    Step(
        key="feed-forward",
        title="Feed-forward: time to think",
        video_time="1:24:27",
        text=(
            "Attention is **communication**; the feed-forward layer is **computation**. After a character has "
            "gathered information from the others, a small MLP (Linear to 4 × n_embd, ReLU, Linear back) works on "
            "each position on its own. A block is attention followed by feed-forward, and the model stacks blocks, "
            "so communicating and thinking alternate."
        ),
        with_variant="full",
        without_variant="no-ffn",
        lecture_loss=None,
        links=(
            Link(
                "residual",
                "What attention and the MLP each write into the residual stream",
                section="What each sublayer writes",
            ),
        ),
        note="The lecture reports a further small drop here without quoting a number.",
        question=Question(
            "Attention lets characters communicate. What does the feed-forward layer after it work on?",
            ("Each position on its own", "Every position mixed together", "Only the last character"),
            0,
            "The feed-forward MLP is applied to every position independently: after the characters have gathered "
            "information from each other, each one thinks on that data by itself.",
        ),
    ),
    Step(
        key="residual",
        title="Residual connections: a highway for gradients",
        video_time="1:27:59",
        text=(
            "Stacked blocks make a deep network, and deep networks are hard to optimise. With residual connections "
            "a block computes a **change** and adds it to x (`x = x + attn(...)`, `x = x + ffwd(...)`) instead of "
            "replacing x. Addition passes the gradient straight through to the input, and because the blocks "
            "contribute almost nothing at the start, the deep network begins almost as a shallow one and grows "
            "into its depth."
        ),
        with_variant="full",
        without_variant="no-residual",
        lecture_loss="2.08",
        links=(
            Link(
                "residual",
                "The residual stream beside the same model untrained: trained blocks add far more to it",
                {"cmp": "untrained"},
                section="Beside another model",
            ),
        ),
        note="The lecture's 2.08 also includes the output projections and the 4× wider feed-forward added in the "
        "same step.",
        question=Question(
            "With residual connections each block adds its change to x. Through the blocks, what does the "
            "residual stream's size do?",
            ("It grows", "It shrinks", "It stays exactly the same"),
            0,
            "x = x + block(x): every block adds to the stream, so its norm grows layer by layer. The addition is "
            "also the gradient's superhighway from the loss straight back to the input.",
        ),
    ),
    Step(
        key="layernorm",
        title="LayerNorm: keep the numbers in range",
        video_time="1:32:56",
        text=(
            "LayerNorm rescales each character's vector to mean 0 and standard deviation 1, then applies a learned "
            "scale and shift. The lecture puts it **before** each sublayer (pre-norm) and once more before the "
            "final linear layer; the 2017 paper put it after each addition (post-norm). Either way each sublayer "
            "gets inputs in a steady range however large the residual stream grows, which matters more the "
            "deeper the network."
        ),
        with_variant="full",
        without_variant="no-layernorm",
        extra_variants=("post-norm",),
        lecture_loss="2.06",
        links=(
            Link(
                "ablations",
                "Before each sublayer or after each addition: post-norm's line of code and its loss curve",
                {"ablation_variant": "post-norm"},
            ),
        ),
        question=Question(
            "Where does the lecture put LayerNorm?",
            (
                "Before each sublayer (pre-norm), and once before the last linear layer",
                "After each addition, as in the 2017 paper (post-norm)",
                "Only at the very end",
            ),
            0,
            "The lecture follows the now-common pre-norm: each sublayer gets its input normalised, so it sees a "
            "steady range however much the residual stream grows. The original paper normalised after the "
            "addition.",
        ),
    ),
    Step(
        key="scale-up",
        title="Dropout and scale-up",
        video_time="1:37:57",
        text=(
            "With every piece in place the lecture makes the model bigger: 6 layers, 6 heads, width 384 and a "
            "256-character context, about 10.8M parameters. A model that big can memorise its training text, so "
            "**dropout** switches off a random 20% of the activations at every training step; the network has to "
            "learn several ways to do everything, and at test time they all work together."
        ),
        with_variant="full",
        without_variant=None,
        lecture_loss="1.48",
        links=(Link("attention", "Every layer × head of the model at once", {"view": "model", "scale": "head_size"}),),
        note="No ablation variant switches dropout off or changes the size, so their effect is not measured here: "
        "the number is the full model at the ablation's budget. The lecture went from 2.07 to 1.48 with 5000 "
        "steps of the big model on a GPU.",
        question=Question(
            "The scaled-up model has 6 layers of 6 heads. How many attention maps does one prompt make?",
            ("6", "12", "36", "384"),
            2,
            "Every head of every layer computes its own map: 6 × 6 = 36. 384 is the model's width, split into 6 "
            "heads of 64 in each layer.",
        ),
    ),
)
