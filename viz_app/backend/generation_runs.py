"""The Generate page's numbers: a stepwise generation run whose steps are kept, and teacher forcing.

A `GenRun` is one session's generation: the prompt, the seed, every step so far (the character,
both distributions, the attention rows), and the state of its random generator. Advancing a
run continues that generator, so pressing Next 40 times samples exactly what
`python -m nanogpt sample --seed S` samples in one go with the same settings. The timeline
replays the stored steps; nothing is recomputed.

Teacher forcing reads a real passage of the validation text (the last 10% of the model's training
text, as in the lecture's split) and gives, at every position, the model's probability of the
true next character.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from nanogpt import metrics
from nanogpt.checkpoint import Checkpoint
from nanogpt.data import DataError, load_text, tinyshakespeare_path
from nanogpt.generate import Step, generate_steps, sample_distribution

from .captures import CAPTURE_POSITIONS, load_model
from .registry import ModelRef

MAX_STEPS = 1000  # per run: attention rows are kept for every step (float16, ~18 kB a step at 6x6x256)
SURPRISE_P = 0.05  # a true next character the model gave less than this is 'surprising'


@dataclass
class GenStep(Step):
    """A nanogpt Step as it was sampled, kept small (probabilities float32, attention float16),
    with the settings it was sampled under."""

    temperature: float
    top_k: int | None


@dataclass
class GenRun:
    model: ModelRef
    prompt_ids: tuple[int, ...]
    seed: int
    rng_state: torch.Tensor  # the sampler's generator state after the last step
    steps: list[GenStep] = field(default_factory=list)

    def ids(self, upto: int | None = None) -> list[int]:
        """Prompt plus the first `upto` generated characters (all by default)."""
        steps = self.steps if upto is None else self.steps[:upto]
        return list(self.prompt_ids) + [s.token for s in steps]

    @property
    def full(self) -> bool:
        return len(self.steps) >= MAX_STEPS

    def settings(self) -> set[tuple[float, int | None]]:
        return {(s.temperature, s.top_k) for s in self.steps}

    def context(self, tokenizer, index: int) -> tuple[str, int]:
        """The characters step `index` read, and the position of the first of them in the whole text."""
        step = self.steps[index]
        ids = self.ids(index)
        start = len(ids) - step.context_len
        return tokenizer.decode(ids[start:]), start


def new_run(model: ModelRef, prompt_ids: tuple[int, ...], seed: int) -> GenRun:
    generator = torch.Generator(device="cpu")
    generator.manual_seed(int(seed))  # what generate() does with seed=S
    return GenRun(model=model, prompt_ids=tuple(prompt_ids), seed=int(seed), rng_state=generator.get_state())


def advance(run: GenRun, ckpt: Checkpoint, n: int, temperature: float, top_k: int | None) -> int:
    """Sample up to n more characters into the run; returns how many were added."""
    n = max(0, min(int(n), MAX_STEPS - len(run.steps)))
    if n == 0:
        return 0
    generator = torch.Generator(device="cpu")
    generator.set_state(run.rng_state)
    top_k = int(top_k) if top_k else None
    steps = generate_steps(
        ckpt.model,
        run.ids(),
        n,
        float(temperature),
        top_k,
        tokenizer=ckpt.tokenizer,
        generator=generator,
    )
    for step in steps:
        small = dict(probs_raw=step.probs_raw.astype(np.float32), probs=step.probs.astype(np.float32),
                     attention=None if step.attention is None else step.attention.astype(np.float16))  # fmt: skip
        run.steps.append(GenStep(**(vars(step) | small), temperature=float(temperature), top_k=top_k))
    run.rng_state = generator.get_state()
    return n


def distribution(step: GenStep, temperature: float, top_k: int | None) -> np.ndarray:
    """The distribution `step` is sampled from under these settings (vocab,): its own when they are
    the ones it was sampled with, else nanogpt's sample_distribution of its logits."""
    top_k = int(top_k) if top_k else None
    if (float(temperature), top_k) == (step.temperature, step.top_k):
        return step.probs
    # log-probabilities are the logits up to a constant, which the softmax ignores
    with np.errstate(divide="ignore"):  # a probability of 0 is a logit of -inf: still 0 after any temperature
        logits = torch.from_numpy(np.log(step.probs_raw.astype(np.float64)))
    return sample_distribution(logits, float(temperature), top_k).numpy().astype(np.float32)


# --- teacher forcing ----------------------------------------------------------------------------


def _text_of(source: str) -> str:
    """A training source's text, never downloading: tinyshakespeare only when it is cached."""
    if source == "tinyshakespeare":
        return load_text(str(tinyshakespeare_path(download=False))).text
    if source == "shakespeare-plays":
        return load_text(source).text
    if Path(source).is_file():
        return load_text(source).text
    raise DataError(f"the model's training text ({Path(source).name}) is not on this machine.")


@st.cache_data(max_entries=8, show_spinner="Reading the validation text…")
def validation_text(source: str, vocab: tuple[str, ...]) -> str:
    """The last 10% of a source's text (the lecture's validation split), characters outside the vocab
    dropped (vocab () for a model that reads every character)."""
    text = _text_of(source)
    val = text[int(0.9 * len(text)) :]
    if not vocab:  # a byte-level BPE model reads every character
        return val
    known = set(vocab)
    return "".join(c for c in val if c in known)


@dataclass
class ForcedPassage:
    """Teacher forcing over chars: position i predicts chars[i + 1]."""

    chars: str | tuple[str, ...]  # the text, or a BPE model's tokens' pieces: one item per position
    p_true: np.ndarray  # (n - 1,) probability of the true next character
    loss: np.ndarray  # (n - 1,) -log p_true, nats
    guess: list[str]  # (n - 1,) the model's most likely next character
    guess_p: np.ndarray  # (n - 1,)
    mean_loss: float

    @property
    def surprising(self) -> np.ndarray:
        return self.p_true < SURPRISE_P


@st.cache_data(max_entries=32, show_spinner=False, hash_funcs={ModelRef: repr})
def teacher_forcing(ref: ModelRef, ids: tuple[int, ...]) -> ForcedPassage:
    ckpt = load_model(ref)
    x = torch.tensor([ids[:-1]], dtype=torch.long)
    y = torch.tensor([ids[1:]], dtype=torch.long)
    with torch.no_grad():
        logits, _ = ckpt.model(x)
    loss = metrics.per_position_loss(logits, y)[0]  # (n - 1,)
    probs = torch.softmax(logits[0].float(), dim=-1)
    guess_p, guess = probs.max(-1)
    tok = ckpt.tokenizer
    return ForcedPassage(
        chars=tok.decode(ids) if tok.unit == "character" else tuple(map(tok.piece, ids)),
        p_true=loss.neg().exp().numpy(),
        loss=loss.numpy(),
        guess=[ckpt.tokenizer.piece(int(i)) for i in guess],
        guess_p=guess_p.numpy(),
        mean_loss=float(loss.mean()),
    )


def encode_passage(ckpt: Checkpoint, text: str) -> tuple[int, ...]:
    """A passage's ids (unknown characters dropped), at most block_size + 1 of them (CAPTURE_POSITIONS + 1)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = ckpt.tokenizer.encode(text, errors="drop")
    return tuple(ids[: min(ckpt.model.config.block_size, CAPTURE_POSITIONS) + 1])
