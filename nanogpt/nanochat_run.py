"""Open a nanochat run the way its user has it: a base dir, a checkpoint dir, or one model_*.pt.

nanochat writes `$NANOCHAT_BASE_DIR/tokenizer/tokenizer.pkl` and, per stage, `<stage>_checkpoints/
<tag>/model_<step:06d>.pt` (a plain state dict) with `meta_<step:06d>.json` (step, val_bpb,
model_config, ...). `find_checkpoints` lists what a path holds; `load_nanochat` opens one (the
newest step of the last stage by default) as a Checkpoint of this project: NanochatGPT, the
BPETokenizer with `<|bos|>` first, and the metadata pages show (stage, step, depth, val_bpb, era).

Nothing runs code from the files: weights through torch.load(weights_only=True, mmap=True) (so
shapes are checked before a byte of data is read), the tokenizer through tiktoken_pickle's
restricted reader, the meta as JSON of a bounded size. A config beyond the limits, weights that are
no nanochat era's layout, a tokenizer of another vocabulary size: one CheckpointError sentence each.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from . import limits as size_limits
from .checkpoint import Checkpoint, CheckpointError, config_facts, read_json_file
from .nanochat import (
    ERAS,
    PAD_TO,
    SAME_LAYOUT,
    NanochatConfig,
    NanochatGPT,
    NanochatLayoutError,
    check_layout,
    detect_era,
    expected_shapes,
    rename_from_nanochat,
)
from .tiktoken_pickle import TokenizerFileError, read_encoding_state
from .tokenizer import BPETokenizer, TokenizerError

SOURCE_FORMAT = "nanochat"
# nanochat's stages in the order a run goes through them; the last one present is opened by default
STAGES = {
    "base": "base_checkpoints",
    "mid": "mid_checkpoints",
    "sft": "chatsft_checkpoints",
    "rl": "chatrl_checkpoints",
}
MODEL_FILE = re.compile(r"model_(\d+)\.pt")
COMPILED_PREFIX = "_orig_mod."
MAX_META_BYTES = 16 * 2**20
BOS = "<|bos|>"
# the split patterns nanochat has trained with (tokenizer.py's SPLIT_PATTERN, and GPT-4's that it
# adapted); another pattern is an untrusted regular expression, which could take forever on a prompt
_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,N}|"""
    r""" ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""
)
KNOWN_PATTERNS = (_PATTERN.replace("{1,N}", "{1,2}"), _PATTERN.replace("{1,N}", "{1,3}"))


@dataclass(frozen=True)
class NanochatFile:
    """One saved model of a nanochat run."""

    path: Path  # model_<step>.pt
    stage: str  # base | mid | sft | rl
    tag: str  # the checkpoint folder's name, e.g. d20
    step: int

    @property
    def meta_path(self) -> Path:
        return self.path.with_name(f"meta_{self.step:06d}.json")

    @property
    def label(self) -> str:
        return f"{self.stage} {self.tag} step {self.step:,}"


def is_nanochat_path(path: str | os.PathLike) -> bool:
    """Whether a path is a nanochat base dir, checkpoint dir or model_*.pt (cheap: names only)."""
    path = Path(path)
    if path.is_file():
        return MODEL_FILE.fullmatch(path.name) is not None
    if path.is_dir():
        return any((path / folder).is_dir() for folder in STAGES.values()) or any(
            MODEL_FILE.fullmatch(p.name) for p in path.iterdir()
        )
    return False


def find_checkpoints(path: str | os.PathLike) -> list[NanochatFile]:
    """Every model_*.pt a base dir, a checkpoint dir (or the folder of a model_*.pt) holds, sorted by
    stage (a run's order), tag and step."""
    path = Path(path)
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        raise CheckpointError(f"no nanochat run at {path}: give a base dir, a checkpoint dir or a model_*.pt")
    folders = []
    if any(MODEL_FILE.fullmatch(p.name) for p in path.iterdir()):
        folders.append(path)
    for folder in STAGES.values():
        if (path / folder).is_dir():
            folders += sorted(p for p in (path / folder).iterdir() if p.is_dir())
    found = []
    for folder in folders:
        stage = _stage_of(folder)
        for file in folder.iterdir():
            m = MODEL_FILE.fullmatch(file.name)
            if m and file.is_file():
                found.append(NanochatFile(file, stage, folder.name, int(m[1])))
    if not found:
        raise CheckpointError(
            f"{path} holds no nanochat model_<step>.pt (looked in it and in {', '.join(STAGES.values())}/<tag>/)."
        )
    order = list(STAGES)
    return sorted(found, key=lambda f: (order.index(f.stage), _depth(f.tag), f.tag, f.step))


def _stage_of(folder: Path) -> str:
    for stage, name in STAGES.items():
        if folder.parent.name == name:
            return stage
    return "base"  # a checkpoint dir given alone, outside any *_checkpoints folder


def _depth(tag: str) -> int:
    m = re.fullmatch(r"d(\d+)", tag)
    return int(m[1]) if m else -1


def choose(files: list[NanochatFile], path, step: int | None = None, stage: str | None = None) -> NanochatFile:
    """The file for (stage, step): by default the last stage present, its deepest tag, its newest step."""
    if stage is not None:
        if stage not in STAGES:
            raise CheckpointError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
        files = [f for f in files if f.stage == stage]
        if not files:
            raise CheckpointError(f"{path} has no {stage} checkpoints ({STAGES[stage]}/)")
    last = files[-1]
    files = [f for f in files if (f.stage, f.tag) == (last.stage, last.tag)]
    if step is None:
        return files[-1]
    for f in files:
        if f.step == step:
            return f
    steps = ", ".join(f"{f.step:,}" for f in files)
    raise CheckpointError(f"{path} has no step {step:,} in {last.stage} {last.tag} (it has {steps})")


def read_meta(file: NanochatFile) -> dict:
    path = file.meta_path
    if not path.is_file():
        raise CheckpointError(f"{file.path} has no {path.name} beside it; nanochat writes one with every model file.")
    meta = read_json_file(path, MAX_META_BYTES, "larger than any nanochat meta")
    if not isinstance(meta, dict) or not isinstance(meta.get("model_config"), dict):
        raise CheckpointError(f"{path} has no model_config; is it a nanochat meta_<step>.json?")
    return meta


def find_tokenizer(file: NanochatFile) -> Path:
    """tokenizer/tokenizer.pkl of the run's base dir (the folder above <stage>_checkpoints/<tag>/)."""
    folder = file.path.parent
    for candidate in (folder.parent.parent, folder.parent, folder):
        pkl = candidate / "tokenizer" / "tokenizer.pkl"
        if pkl.is_file():
            return pkl
    raise CheckpointError(
        f"no tokenizer/tokenizer.pkl in the base dir of {file.path} (nanochat writes it to "
        "$NANOCHAT_BASE_DIR/tokenizer/); open the base dir, or copy the tokenizer folder beside the checkpoints."
    )


def read_tokenizer(path: Path, vocab_size: int) -> BPETokenizer:
    """nanochat's tokenizer.pkl as the project's BPETokenizer (<|bos|> first), checked against the model."""
    try:
        state = read_encoding_state(path)
    except TokenizerFileError as e:
        raise CheckpointError(str(e)) from None
    if state.n_vocab != vocab_size:
        raise CheckpointError(
            f"{path} has {state.n_vocab:,} tokens ({len(state.mergeable_ranks):,} ranks and "
            f"{len(state.special_tokens)} special) but the model's vocab_size is {vocab_size:,}; it is another "
            "run's tokenizer."
        )
    if state.pat_str not in KNOWN_PATTERNS:
        raise CheckpointError(
            f"{path} splits text with a pattern nanochat never used ({state.pat_str[:60]!r}...); an unknown regular "
            "expression could hang on a prompt, so it was refused."
        )
    if BOS not in state.special_tokens:
        raise CheckpointError(f"{path} has no {BOS} token; nanochat starts every text with it.")
    try:
        return BPETokenizer(state.name, state.pat_str, state.mergeable_ranks, state.special_tokens, bos=BOS)
    except TokenizerError as e:
        raise CheckpointError(f"{path}: {e}") from None


def config_of(meta: dict, held: dict[str, tuple[int, ...]], what, era: str | None = None) -> NanochatConfig:
    """The model's config: meta's model_config, the era from the weights' names and shapes (or `era`)."""
    raw = dict(meta["model_config"])
    known = {"sequence_len", "vocab_size", "n_layer", "n_head", "n_kv_head", "n_embd", "window_pattern"}
    extra = sorted(set(raw) - known)
    if extra:
        raise CheckpointError(f"{what}: its model_config has {extra[0]!r}, which no nanochat era's GPTConfig has.")
    raw.setdefault("window_pattern", "L")  # runs from before windows: nanochat itself patches this to full context
    if era is not None and era not in ERAS:
        raise CheckpointError(f"era must be one of {', '.join(ERAS)}, not {era!r}")
    rows = held.get("transformer.wte.weight", (0,))[0]
    vocab = raw.get("vocab_size")
    if isinstance(vocab, int) and rows not in (vocab, -(-vocab // PAD_TO) * PAD_TO):
        raise CheckpointError(
            f"{what} holds transformer.wte.weight of {rows:,} rows for a vocab_size of {vocab:,}; nanochat keeps "
            f"{vocab:,} rows or pads them to a multiple of {PAD_TO} ({-(-vocab // PAD_TO) * PAD_TO:,})."
        )
    try:
        config = NanochatConfig(**raw, era=era or detect_era(held), padded_vocab=rows)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{what}: its model_config is not nanochat's ({e}).") from None
    try:
        check_layout(config, held, what)
    except NanochatLayoutError as e:
        raise CheckpointError(str(e)) from None
    return config


def check_size(config: NanochatConfig, what, limits: size_limits.Limits) -> NanochatConfig:
    """The config, its context cut where need be (fit_context), once its numbers fit the limits; else the
    sentence that refuses it. Arithmetic only: nothing is allocated before this passes."""
    sentence = size_limits.dimension_problem(config, str(what), limits)
    if not sentence:
        n_params = sum(int(torch.Size(s).numel()) for s in expected_shapes(config).values())
        if n_params <= limits.params:
            config = fit_context(config, limits)
        sentence = size_limits.size_problem(config, n_params, str(what), limits)
    if sentence:
        raise CheckpointError(sentence)
    return config


def fit_context(config: NanochatConfig, limits: size_limits.Limits) -> NanochatConfig:
    """The config with the longest context (a multiple of 64, at most sequence_len) whose capture of
    every head fits the activation limit. nanochat's runs are trained at 2,048 tokens, where a capture
    of a d20 needs ~16 GB (limits.activation_bytes); a prompt of a few hundred tokens is what a page
    shows, so the run opens with prompts cut to what fits, and says so, rather than not at all."""
    budget = limits.activation_mb * 2**20
    if size_limits.activation_bytes(config) <= budget:
        return config
    best = 0
    for context in range(64, config.sequence_len + 1, 64):
        if size_limits.activation_bytes(dataclasses.replace(config, context=context)) > budget:
            break
        best = context
    return dataclasses.replace(config, context=best) if best else config


def load_nanochat(
    src: str | os.PathLike,
    *,
    step: int | None = None,
    stage: str | None = None,
    era: str | None = None,
    limits: size_limits.Limits | None = None,
) -> Checkpoint:
    """A nanochat run's model (eval mode, float32, CPU) with its tokenizer and metadata."""
    from .convert import read_torch_file  # the one reader of torch.save files

    src = Path(src)
    files = find_checkpoints(src)
    if src.is_file():
        step = _step_of(src) if step is None else step
        files = [f for f in files if f.path.parent == src.parent]
    file = choose(files, src, step, stage)
    meta = read_meta(file)
    state = read_torch_file(file.path)  # memory-mapped: shapes known, no data read yet
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise CheckpointError(f"{file.path} is not a state dict of named tensors, as nanochat's model files are.")
    compiled = any(k.startswith(COMPILED_PREFIX) for k in state)
    state = {k.removeprefix(COMPILED_PREFIX): v for k, v in state.items()}
    held = {k: tuple(v.shape) for k, v in state.items()}
    config = config_of(meta, held, file.path, era)
    config = check_size(config, file.path, limits or size_limits.command_line())
    tokenizer = read_tokenizer(find_tokenizer(file), config.vocab_size)
    with torch.device("meta"):  # no memory and no random init for weights the file replaces (a d20: 3.6 GB)
        model = NanochatGPT(config)
    weights = {rename_from_nanochat(k): v.float() for k, v in state.items()}  # bf16 (GPU runs) -> float32
    model.load_state_dict(weights, strict=True, assign=True)
    model.drop_meta_buffers()
    model.eval()
    stages = [f for f in files if (f.stage, f.tag) == (file.stage, file.tag)]
    info = dict(
        source_format=SOURCE_FORMAT,
        source_file=str(file.path),
        source_vocab=str(find_tokenizer(file)),
        n_params=model.num_params(),
        nanochat=run_info(file, meta, config, compiled, [f.step for f in stages], sorted({f.stage for f in files})),
    )
    if isinstance(meta.get("val_bpb"), (int, float)):
        info["val_bpb"] = float(meta["val_bpb"])
    return Checkpoint(model, tokenizer, info, str(file.path))


def _step_of(path: Path) -> int:
    m = MODEL_FILE.fullmatch(path.name)
    if not m:
        raise CheckpointError(f"{path} is not a nanochat model_<step>.pt")
    return int(m[1])


def run_info(file: NanochatFile, meta: dict, config: NanochatConfig, compiled: bool, steps, stages) -> dict:
    """What a page shows of the run: stage, tag, step, depth, val_bpb, era (and what the era means)."""
    era = config.constants
    ambiguous = SAME_LAYOUT.get(config.era, ())
    return dict(
        stage=file.stage,
        tag=file.tag,
        step=meta["step"] if type(meta.get("step")) is int else file.step,
        depth=config.n_layer,
        val_bpb=meta.get("val_bpb") if isinstance(meta.get("val_bpb"), (int, float)) else None,
        era=config.era,
        era_dates=era.dates,
        era_note=(
            f"the file cannot tell era {config.era} from {', '.join(ambiguous)} (same weights' layout; softcap "
            f"{era.softcap:g} is assumed)"
            if ambiguous
            else ""
        ),
        windows=config.windows(),
        context=config.context,
        sequence_len=config.sequence_len,
        steps=list(steps),
        stages=list(stages),
        compiled=compiled,
    )


def describe(ckpt: Checkpoint) -> str:
    """One line for a nanochat checkpoint: era, stage, step, depth, val_bpb."""
    run = ckpt.meta["nanochat"]
    bpb = f", val_bpb {run['val_bpb']:.4f}" if run.get("val_bpb") is not None else ""
    return (
        f"nanochat {run['stage']} {run['tag']} step {run['step']:,} (depth {run['depth']}{bpb}), era {run['era']} "
        f"({run['era_dates']})"
    )


def facts(path: str | os.PathLike) -> dict:
    """What the app's sidebar says of one saved model of a run, from its meta and its tensors' shapes
    (memory-mapped: no weight is read): the keys captures.model_facts gives for any model, and `nanochat`."""
    from .convert import read_torch_file

    path = Path(path)
    file = next(f for f in find_checkpoints(path) if f.path == path)
    meta = read_meta(file)
    state = read_torch_file(file.path)
    held = {k.removeprefix(COMPILED_PREFIX): tuple(v.shape) for k, v in state.items()}
    config = check_size(config_of(meta, held, file.path), file.path, size_limits.command_line())
    run = run_info(file, meta, config, False, [], [])
    return dict(
        model_type="nanochat",
        n_params=sum(int(torch.Size(s).numel()) for s in held.values()),
        **config_facts(config),
        unit="token",
        val_loss=None,
        step=run["step"],
        data=None,
        source_format=SOURCE_FORMAT,
        source_file=str(file.path),
        source_vocab=str(find_tokenizer(file)),
        nanochat=run,
        n_kv_head=config.n_kv_head,
    )
