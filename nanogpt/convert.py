"""Open a model trained elsewhere: nanoGPT's ckpt.pt (character level with its meta.pkl, or GPT-2's
tokens without one), the lecture's gpt.py state_dict, or a Hugging Face GPT-2 folder (config.json and
model.safetensors or its shards, also as the hub's cache lays it out), as a GPT of this project that
computes what the original computed, saved in the one checkpoint format.

Nothing in a file runs code. Weights come through torch.load(weights_only=True), which rebuilds
tensors and plain containers only, or through safetensors, which holds no code at all; nanoGPT's
meta.pkl through an unpickler that admits no global at all (its dicts of ints and strings need
none); config.json and a shard index through json. Every problem is a CheckpointError: one line
that names the file and says what to do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pickle
import re
import zipfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from . import nanochat_run
from .checkpoint import (
    Checkpoint,
    CheckpointError,
    check_claims,
    load_checkpoint,
    read_json_file,
    save_checkpoint,
    tied_names,
)
from .config import GPTConfig
from .data import DataError, load_text
from .limits import Limits
from .model import GPT
from .tokenizer import GPT2_VOCAB_SIZE, BPETokenizer, CharTokenizer, Tokenizer, TokenizerError

# the source formats, as the metadata names them
NANOGPT, LECTURE, HUGGINGFACE = "nanogpt", "lecture-gpt", "huggingface"
GPT2 = "gpt2"  # the tokenizer name --tokenizer takes and the metadata's source_vocab says
# the vocabularies that are GPT-2's tokens: its own 50,257 (init_from='gpt2' runs, Hugging Face) and
# nanoGPT's 50,304 (train.py pads it to a multiple of 64 when no meta.pkl gives a vocabulary)
GPT2_SIZES = (GPT2_VOCAB_SIZE, 50304)
MAX_CONFIG_BYTES = 1 << 20  # a Hugging Face config.json is a few hundred bytes
SHARD_INDEX = "model.safetensors.index.json"  # transformers' map of a sharded model's tensors to its files
MAX_SHARD_INDEX_BYTES = 1 << 22  # about 80 bytes a tensor: GPT-2 XL's 580 tensors take 50 KB
COMPILED_PREFIX = "_orig_mod."  # what torch.compile puts before every name of a nanoGPT compile=True run
LECTURE_KEY = re.compile(r"blocks\.(\d+)\.sa\.heads\.(\d+)\.key\.weight")

# nanoGPT's names -> ours; transformer.h.{i}.attn.bias (a causal-mask buffer in some versions) maps to
# nothing and is dropped
NANOGPT_NAMES = (
    (r"transformer\.wte\.", "tok_emb."),
    (r"transformer\.wpe\.", "pos_emb."),
    (r"transformer\.h\.(\d+)\.ln_1\.", r"blocks.\1.ln1."),
    (r"transformer\.h\.(\d+)\.attn\.c_attn\.", r"blocks.\1.attn.qkv."),
    (r"transformer\.h\.(\d+)\.attn\.c_proj\.", r"blocks.\1.attn.proj."),
    (r"transformer\.h\.(\d+)\.ln_2\.", r"blocks.\1.ln2."),
    (r"transformer\.h\.(\d+)\.mlp\.c_fc\.", r"blocks.\1.ffwd.net.0."),
    (r"transformer\.h\.(\d+)\.mlp\.c_proj\.", r"blocks.\1.ffwd.net.2."),
    (r"transformer\.ln_f\.", "ln_f.ln."),
)
LECTURE_NAMES = (
    (r"token_embedding_table\.", "tok_emb."),
    (r"position_embedding_table\.", "pos_emb."),
    (r"blocks\.(\d+)\.sa\.proj\.", r"blocks.\1.attn.proj."),
    (r"ln_f\.", "ln_f.ln."),
)  # blocks.{i}.ln1/ln2/ffwd.net.* and lm_head are already our names
# causal masks (nanoGPT's and Hugging Face's attn.bias, HF's older masked_bias, the lecture's tril):
# buffers, not weights
DROPPED = re.compile(r"transformer\.h\.\d+\.attn\.(masked_)?bias|blocks\.\d+\.sa\.heads\.\d+\.tril")
# Hugging Face's Conv1D keeps a weight as (in, out), a Linear's transposed: these of ours are read transposed
CONV1D = re.compile(r"blocks\.\d+\.(attn\.qkv|attn\.proj|ffwd\.net\.0|ffwd\.net\.2)\.weight")
# Hugging Face's activation_function -> ours (gelu_new and gelu_pytorch_tanh are both the tanh form)
HF_ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu", "relu": "relu"}


class NotCharacterLevel(CheckpointError):
    """A meta.pkl whose ids stand for something other than single characters (a BPE dataset's)."""


class _NoGlobals(pickle.Unpickler):
    """Unpickles dicts, lists, strings and numbers only: any class or function is refused unbuilt."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"it asks for {module}.{name}")


def vocab_from_meta(path: str | os.PathLike) -> list[str]:
    """nanoGPT's meta.pkl: its `itos`, id -> character, as the list of characters in id order."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            meta = _NoGlobals(f).load()
    except OSError as e:
        raise CheckpointError(f"cannot read {path} ({e.strerror}); pass nanoGPT's meta.pkl with --meta") from None
    except pickle.UnpicklingError as e:
        if str(e).startswith("it asks for"):
            raise CheckpointError(
                f"{path} was refused: {e}, which could run code; a nanoGPT meta.pkl holds only "
                "plain dicts of characters and ids. Use the one prepare.py wrote."
            ) from None
        raise CheckpointError(f"{path} is not a readable pickle ({e}); it may be truncated.") from None
    except Exception as e:  # noqa: BLE001 - a damaged pickle can fail in many ways; none of them ran code
        raise CheckpointError(f"{path} is not a readable pickle ({type(e).__name__}); it may be truncated.") from None
    itos = meta.get("itos") if isinstance(meta, dict) else None
    if not isinstance(itos, dict) or sorted(itos) != list(range(len(itos))) or not itos:
        raise CheckpointError(f"{path} has no `itos` (ids 0..n-1 -> characters); pass the meta.pkl of a char dataset.")
    chars = [itos[i] for i in range(len(itos))]
    if not all(isinstance(c, str) and len(c) == 1 for c in chars):
        raise NotCharacterLevel(
            f"{path} maps ids to something other than single characters (a BPE dataset?); "
            "give the meta.pkl of a character-level dataset, or --tokenizer gpt2 for GPT-2's tokens."
        )
    if "stoi" in meta and meta["stoi"] != {c: i for i, c in enumerate(chars)}:
        raise CheckpointError(f"{path}: its stoi and itos disagree; use the meta.pkl prepare.py wrote.")
    return chars


def vocab_from_text(source: str | os.PathLike) -> list[str]:
    """The lecture's vocabulary: every character of the training text, sorted (nanoGPT's prepare.py too)."""
    try:
        return sorted(set(load_text(str(source)).text))
    except DataError as e:
        raise CheckpointError(f"{e} (the vocabulary is read from the text the model was trained on)") from None


def read_torch_file(path: str | os.PathLike):
    """What torch.save wrote, unpickled with weights_only=True: tensors and plain values, never code.

    The file is memory-mapped (mmap=True): tensors come back with their shapes and no byte of their data
    read, so a file's claims are checked (check_claims) before it costs memory. That needs torch.save's
    zip format (every torch since 1.6); the older format, whose loader allocates the sizes the file
    states before reading them, is refused."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no file at {path}")
    if path.suffix == ".safetensors":
        raise CheckpointError(f"{path} is a .safetensors checkpoint already: open it as it is, no conversion needed")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path} is not a torch.save zip file (truncated, not a PyTorch file, or saved in the pre-1.6 "
            "format); load it and torch.save it again with a current PyTorch."
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # noqa: BLE001 - torch.load fails on damaged files with many types
        asked = re.search(r"GLOBAL (\S+)", str(e)) if isinstance(e, pickle.UnpicklingError) else None
        if asked:
            raise CheckpointError(
                f"{path} was refused: it asks for {asked.group(1)}, which could run code; a "
                "checkpoint needs only tensors and plain values. Save the model's "
                "state_dict (or nanoGPT's checkpoint dict) with torch.save."
            ) from None
        # torch's own text is for its developers (a miniz error, a paragraph about weights_only that a
        # line cut mid-word): the user gets what is wrong and what to give instead; the cause stays chained
        raise CheckpointError(unreadable(path)) from e


UNREADABLE = "is not a model file PyTorch can read"  # the app finds this in an upload's error to reword it


def unreadable(name: str | os.PathLike, verb: str = "use") -> str:
    """The one sentence for a file torch.load failed on; the app says "upload" where the CLI says "use"."""
    return (
        f"{name} {UNREADABLE} (it is damaged, or torch.save did not save a model's weights in it): {verb} "
        "nanoGPT's ckpt.pt, the lecture's `torch.save(model.state_dict(), ...)` file or a .safetensors checkpoint."
    )


def detect_format(obj, path) -> str:
    if isinstance(obj, dict) and "model_args" in obj and "model" in obj:
        return NANOGPT
    if isinstance(obj, dict) and any(LECTURE_KEY.fullmatch(_strip(k)) for k in obj if isinstance(k, str)):
        return LECTURE
    raise CheckpointError(
        f"{path} is neither a nanoGPT checkpoint (a dict with 'model_args' and 'model') nor the "
        "lecture's state_dict (keys like blocks.0.sa.heads.0.key.weight)."
    )


def _strip(name: str) -> str:
    return name.removeprefix(COMPILED_PREFIX)


def _renamed(state: dict, table, path: Path) -> dict[str, torch.Tensor]:
    out = {}
    for name, tensor in state.items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            raise CheckpointError(f"{path}: its weights hold {name!r}, which is not a named tensor.")
        name = _strip(name)
        if DROPPED.fullmatch(name):
            continue
        out[_renamed_one(name, table)] = tensor
    return out


def _nanogpt(ckpt: dict, path: Path) -> tuple[GPTConfig, dict, dict]:
    """Config, our-named weights and provenance of a nanoGPT checkpoint."""
    args, state = ckpt["model_args"], ckpt["model"]
    if not isinstance(args, dict) or not isinstance(state, dict):
        raise CheckpointError(f"{path}: 'model_args' and 'model' should be dicts; is it a nanoGPT ckpt.pt?")
    weights = _renamed(state, NANOGPT_NAMES, path)
    # nanoGPT ties lm_head to wte; a fork that unties them keeps its own head
    head, embedding = weights.get("lm_head.weight"), weights.get("tok_emb.weight")
    tied = head is None or (embedding is not None and torch.equal(head, embedding))
    try:
        config = GPTConfig(
            vocab_size=int(args["vocab_size"]),
            block_size=int(args["block_size"]),
            n_layer=int(args["n_layer"]),
            n_head=int(args["n_head"]),
            n_embd=int(args["n_embd"]),
            dropout=float(args.get("dropout", 0.0)),
            activation="gelu",
            bias=bool(args["bias"]),
            qkv_bias=bool(args["bias"]),
            lm_head_bias=False,
            tied_lm_head=tied,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: its model_args are not nanoGPT's GPTConfig ({e}).") from None
    train_config = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else {}
    provenance = dict(
        iter_num=_plain(ckpt.get("iter_num")),
        best_val_loss=_plain(ckpt.get("best_val_loss")),  # a 0-d tensor in nanoGPT's files
        original_config=_plain({"model_args": args, "config": train_config}),
        compiled=any(isinstance(k, str) and k.startswith(COMPILED_PREFIX) for k in state),
    )
    if isinstance(train_config.get("dataset"), str):
        provenance["data"] = {"name": train_config["dataset"]}
    return config, weights, provenance


def _lecture(state: dict, path: Path) -> tuple[GPTConfig, dict, dict]:
    """Config (read off the weights' shapes), our-named weights and provenance of a lecture state_dict."""
    state = {_strip(k): v for k, v in state.items()}
    heads = {(int(m[1]), int(m[2])) for m in map(LECTURE_KEY.fullmatch, state) if m}
    n_layer, n_head = 1 + max(layer for layer, _ in heads), 1 + max(head for _, head in heads)
    try:
        vocab_size, n_embd = state["token_embedding_table.weight"].shape
        block_size = state["position_embedding_table.weight"].shape[0]
        config = GPTConfig(
            vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd, dropout=0.0
        )
    except (KeyError, ValueError, AttributeError) as e:
        raise CheckpointError(f"{path}: not the lecture's GPT ({e}); was it saved from gpt.py's model?") from None
    weights = _renamed(state, LECTURE_NAMES, path)
    for layer in range(n_layer):
        # the lecture's one Linear per head -> our fused qkv: rows [q of every head, k of every head, v ...]
        parts = []
        for kind in ("query", "key", "value"):
            for head in range(n_head):
                name = f"blocks.{layer}.sa.heads.{head}.{kind}.weight"
                if name not in weights:
                    raise CheckpointError(f"{path} has no {name}; the lecture's model has one per layer and head.")
                part = weights.pop(name)
                if tuple(part.shape) != (config.head_size, n_embd):  # each (head_size, C), or torch.cat fails
                    raise CheckpointError(
                        f"{path} holds {name} of shape {tuple(part.shape)} where its embeddings make a head "
                        f"{(config.head_size, n_embd)}; its weights disagree with each other (a damaged or "
                        "altered file)."
                    )
                parts.append(part)
        weights[f"blocks.{layer}.attn.qkv.weight"] = torch.cat(parts)  # (3C, C)
    shapes = {name: getattr(config, name) for name in ("n_layer", "n_head", "n_embd", "block_size", "vocab_size")}
    return config, weights, dict(original_config=shapes)  # gpt.py keeps its settings in the script, not the file


def _plain(value):
    """A JSON-ready copy: tensors become numbers or lists, anything else unusual its str()."""

    def default(obj):
        if isinstance(obj, torch.Tensor):
            return obj.item() if obj.numel() == 1 else obj.tolist()
        return str(obj)

    try:
        return json.loads(json.dumps(value, default=default))
    except (TypeError, ValueError):  # keys JSON cannot hold
        return str(value)


def _find_meta(path: Path, dataset) -> Path | None:
    """nanoGPT's meta.pkl: beside the checkpoint, or data/<dataset>/ of nanoGPT's repo (out-*/ckpt.pt
    sits in it) or of the current directory."""
    candidates = [path.parent / "meta.pkl"]
    if isinstance(dataset, str) and dataset and Path(dataset).name == dataset:  # a name, never a path
        for root in (path.resolve().parent.parent, Path.cwd()):
            candidates.append(root / "data" / dataset / "meta.pkl")
    return next((c for c in candidates if c.is_file()), None)


def import_model(
    src: str | os.PathLike,
    meta_pkl: str | os.PathLike | None = None,
    vocab_text: str | os.PathLike | None = None,
    *,
    tokenizer: str | None = None,
    fallback_text: str | None = None,
    limits: Limits | None = None,
    step: int | None = None,
    stage: str | None = None,
    era: str | None = None,
) -> Checkpoint:
    """A nanoGPT ckpt.pt, a lecture state_dict, a Hugging Face GPT-2 folder or a nanochat run as a model
    (eval mode) with its tokenizer and metadata.

    A nanochat run (a base dir, a checkpoint dir or a model_<step>.pt: nanochat_run.load_nanochat) brings
    its own tokenizer; `step`, `stage` and `era` choose within it (default: the newest step of the last
    stage, the era its weights' layout shows) and are refused for the other formats.

    The vocabulary, first found: tokenizer="gpt2" (GPT-2's tokens), meta_pkl (nanoGPT's meta.pkl),
    vocab_text (the training text: a path or "tinyshakespeare"); for nanoGPT the meta.pkl beside the
    checkpoint or in data/<dataset>/, else GPT-2's tokens where the vocabulary is GPT-2's size (as
    nanoGPT's sample.py assumes them); a Hugging Face GPT-2 has GPT-2's; then fallback_text (the app's
    default); with none of them it is an error. A config beyond `limits` (the command line's by
    default) or that its weights do not fit is refused before the model is built.
    """
    path = Path(src)
    if nanochat_run.is_nanochat_path(path):
        return nanochat_run.load_nanochat(path, step=step, stage=stage, era=era, limits=limits)
    if (step, stage, era) != (None, None, None):
        raise CheckpointError(f"{path} is not a nanochat run: a step, stage or era chooses only within one.")
    if tokenizer not in (None, GPT2):
        raise CheckpointError(f"--tokenizer {tokenizer!r} is not one attention lab has; it knows {GPT2!r}")
    if path.is_dir():
        fmt = HUGGINGFACE
        config, weights, provenance = _huggingface(path, limits)
    else:
        obj = read_torch_file(path)
        fmt = detect_format(obj, path)
        config, weights, provenance = _nanogpt(obj, path) if fmt == NANOGPT else _lecture(obj, path)
    tied = tied_names(config)
    check_claims(config, {name: tuple(t.shape) for name, t in weights.items() if name not in tied}, path, limits)
    tok, vocab_source = _vocabulary(fmt, config, path, provenance, meta_pkl, vocab_text, tokenizer, fallback_text)
    if tok.vocab_size < config.vocab_size:
        provenance["padded_vocab_size"] = config.vocab_size
        config, weights = drop_padding(config, weights, tok.vocab_size)

    model = GPT(config)
    for name in tied:
        weights.pop(name, None)  # the same tensor as its original, which loads it
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as e:  # a shape that does not fit: "Error(s) in loading state_dict for GPT: size mismatch ..."
        detail = " ".join(str(e).split()).split(":", 1)[-1].strip()[:240]
        raise CheckpointError(f"{path}: its weights do not fit its config ({detail})") from None
    missing = [n for n in missing if n not in tied_names(config)]
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: its weights do not fit its config (missing {missing[:3]}, unexpected "
            f"{unexpected[:3]}); is it a whole {fmt} file?"
        )
    model.eval()
    provenance = dict(source_format=fmt, source_file=str(path), source_vocab=vocab_source, **provenance)
    return Checkpoint(model, tok, provenance)


def drop_padding(config: GPTConfig, weights: dict, n_tokens: int) -> tuple[GPTConfig, dict]:
    """A model whose vocabulary rows past its tokenizer's are gone: nanoGPT pads GPT-2's 50,257 tokens to
    50,304 rows (a multiple of 64, for speed), and ids 50,257-50,303 are no token (tiktoken cannot
    decode them). Without their rows they are never sampled nor shown in a distribution, and every
    other logit is the one the original computes (a row of the unembedding is its token's logit)."""
    vocab_rows = ("tok_emb.weight", "lm_head.weight", "lm_head.bias")  # (V, C), (V, C), (V,)
    kept = {name: t[:n_tokens] if name in vocab_rows else t for name, t in weights.items()}
    return dataclasses.replace(config, vocab_size=n_tokens), kept


def _vocabulary(
    fmt: str, config: GPTConfig, path: Path, provenance: dict, meta_pkl, vocab_text, tokenizer, fallback_text
) -> tuple[Tokenizer, str]:
    """The tokenizer of an imported model and where it came from (see import_model for the order)."""
    vocab_size = config.vocab_size
    if tokenizer == GPT2 or fmt == HUGGINGFACE:
        if vocab_size < GPT2_VOCAB_SIZE or (fmt == HUGGINGFACE and vocab_size != GPT2_VOCAB_SIZE):
            raise CheckpointError(
                f"{path}: a model of vocabulary {vocab_size:,} cannot be GPT-2's {GPT2_VOCAB_SIZE:,} tokens; "
                + ("attention lab knows GPT-2's tokenizer only." if fmt == HUGGINGFACE else "pass its meta.pkl.")
            )
        return _gpt2_tokenizer(path), GPT2
    dataset = provenance.get("data", {}).get("name")
    found = None
    if meta_pkl is None and vocab_text is None and fmt == NANOGPT:
        found = _find_meta(path, dataset)
        try:
            chars = vocab_from_meta(found) if found is not None else None
        except NotCharacterLevel:
            if vocab_size not in GPT2_SIZES:
                raise
            chars = None  # a BPE dataset's meta: its tokens are GPT-2's, as the vocabulary's size says
        if chars is None and vocab_size in GPT2_SIZES:
            return _gpt2_tokenizer(path), GPT2  # what nanoGPT's sample.py assumes with no (character) meta.pkl
        if chars is not None:
            return _char_tokenizer(chars, vocab_size, path, found), str(found)
    if meta_pkl is None and vocab_text is None:
        vocab_text = fallback_text
    if meta_pkl is None and vocab_text is None:
        where = f"no meta.pkl beside it or in data/{dataset}/" if fmt == NANOGPT else "the lecture's model has none"
        raise CheckpointError(
            f"{path}: a model of vocabulary {vocab_size:,} with {where}, which is neither GPT-2's tokens "
            f"({' or '.join(f'{n:,}' for n in GPT2_SIZES)}) nor told by a file; pass its vocabulary: nanoGPT's "
            "--meta path/to/meta.pkl, the training text with --vocab-text input.txt (or --vocab-text "
            "tinyshakespeare), or --tokenizer gpt2 for GPT-2's tokens"
        )
    chars = vocab_from_meta(meta_pkl) if meta_pkl is not None else vocab_from_text(vocab_text)
    vocab_file = meta_pkl if meta_pkl is not None else vocab_text
    if len(chars) != vocab_size and fmt == NANOGPT and vocab_size in GPT2_SIZES and meta_pkl is None:
        return _gpt2_tokenizer(path), GPT2  # the app's default text cannot be a GPT-2-sized model's vocabulary
    return _char_tokenizer(chars, vocab_size, path, vocab_file), str(vocab_file)


def _char_tokenizer(chars: list[str], vocab_size: int, path: Path, vocab_file) -> CharTokenizer:
    if len(chars) != vocab_size:
        raise CheckpointError(
            f"{path}: the weights are for {vocab_size} characters but {vocab_file} has "
            f"{len(chars)}; give the vocabulary the model was trained with."
        )
    return CharTokenizer(chars)


def _gpt2_tokenizer(path: Path) -> BPETokenizer:
    try:
        return BPETokenizer.gpt2()
    except TokenizerError as e:
        raise CheckpointError(f"{path} needs GPT-2's tokenizer: {e}") from None


def huggingface_folder(path: Path) -> Path:
    """The folder holding a Hugging Face model's config.json: `path` itself, or for the hub's cache
    (models--gpt2/, laid out as refs/main, snapshots/<commit>/, blobs/) the snapshot refs/main names,
    else its newest snapshot."""
    if (path / "config.json").is_file():
        return path
    snapshots = path / "snapshots"
    if snapshots.is_dir():
        ref = path / "refs" / "main"
        commit = ref.read_text(encoding="utf-8", errors="replace").strip()[:200] if ref.is_file() else ""
        if commit and Path(commit).name == commit and (snapshots / commit / "config.json").is_file():
            return snapshots / commit
        found = [d for d in snapshots.iterdir() if (d / "config.json").is_file()]
        if found:
            return max(found, key=lambda d: d.stat().st_mtime)
    raise CheckpointError(
        f"{path} is a folder but not a Hugging Face model: it has no config.json, nor a snapshots/ folder as "
        "the hub's cache has (models--gpt2/snapshots/<commit>/); give the folder that holds config.json and "
        "model.safetensors, or a model file."
    )


BLOB_LINK = re.compile(r"(\.\./)+blobs/[0-9a-f]{40,64}")


def hub_file(folder: Path, name: str) -> Path:
    """A file of a model folder. In the hub's cache a snapshot's files are relative symlinks into
    blobs/; where a copy lost the links (a checkout or an archive without symlinks) each is a text
    file holding its link, which is followed too, into that cache's blobs/ only."""
    file = folder / name
    if file.is_file() and not file.is_symlink() and file.stat().st_size < 200:
        target = file.read_bytes().decode("ascii", errors="replace").strip()
        if BLOB_LINK.fullmatch(target) and (folder / target).is_file():
            return folder / target
    return file


def _hf_config(folder: Path) -> tuple[GPTConfig, dict]:
    """Our GPTConfig of a Hugging Face GPT-2 config.json, and the config itself (for the provenance)."""
    file = hub_file(folder, "config.json")
    raw = read_json_file(file, MAX_CONFIG_BYTES, "not a config.json (a few hundred)")
    if not isinstance(raw, dict):
        raise CheckpointError(f"{file} is not a Hugging Face config (a JSON object)")
    if raw.get("model_type") != "gpt2":
        raise CheckpointError(
            f"{file} describes a Hugging Face model of type {raw.get('model_type')!r}; attention lab opens "
            "GPT-2 (model_type gpt2) folders."
        )
    activation = raw.get("activation_function", "gelu_new")
    epsilon, inner = raw.get("layer_norm_epsilon", 1e-5), _int_or_none(raw.get("n_inner"))
    unsupported = [
        f"activation_function {activation!r}" if activation not in HF_ACTIVATIONS else None,
        "scale_attn_by_inverse_layer_idx" if raw.get("scale_attn_by_inverse_layer_idx") else None,
        "add_cross_attention" if raw.get("add_cross_attention") else None,
        f"layer_norm_epsilon {epsilon!r}" if epsilon != 1e-5 else None,  # our LayerNorm's
        f"n_inner {inner!r}" if inner is not None and inner != 4 * (_int_or_none(raw.get("n_embd")) or 0) else None,
    ]
    unsupported = [u for u in unsupported if u]
    if unsupported:
        raise CheckpointError(
            f"{file}: a GPT-2 with {', '.join(unsupported)}, which attention lab's GPT does not compute"
        )
    try:
        config = GPTConfig(
            vocab_size=raw["vocab_size"],
            block_size=raw["n_positions"],
            n_layer=raw["n_layer"],
            n_head=raw["n_head"],
            n_embd=raw["n_embd"],
            dropout=0.0,
            activation=HF_ACTIVATIONS[activation],
            attn_scale="head_size" if raw.get("scale_attn_weights", True) else "none",
            bias=True,
            qkv_bias=True,
            lm_head_bias=False,
            tied_lm_head=bool(raw.get("tie_word_embeddings", True)),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{file}: not a GPT-2 config ({e})") from None
    return config, raw


def _huggingface(path: Path, limits: Limits | None) -> tuple[GPTConfig, dict, dict]:
    """Config, our-named weights (Conv1D's transposed) and provenance of a Hugging Face GPT-2 folder,
    its weights in model.safetensors or in the shards model.safetensors.index.json names."""
    folder = huggingface_folder(path)
    config, raw = _hf_config(folder)
    described_by, files = _hf_weight_files(folder)
    weights = _hf_weights(files, described_by, config, limits)
    provenance = dict(original_config=_plain(raw), hf_folder=str(folder))
    return config, weights, provenance


def _hf_weight_files(folder: Path) -> tuple[Path, dict[Path, list[str] | None]]:
    """The .safetensors files of a Hugging Face folder, each with the names of the tensors to take from
    it (None: all it holds), and the file a refusal names: model.safetensors alone, or the shards of
    transformers' index ({"metadata": ..., "weight_map": {tensor name: shard file name}}). A shard is a
    file beside the index (in the hub's cache a link into its blobs/, as model.safetensors is): a name
    that would reach elsewhere is refused, not resolved."""
    single = hub_file(folder, "model.safetensors")
    if single.is_file():
        return single, {single: None}
    index = hub_file(folder, SHARD_INDEX)
    if not index.is_file():
        raise CheckpointError(
            f"{folder} has no model.safetensors (nor the {SHARD_INDEX} of its shards); save the model with "
            "save_pretrained (safetensors is its default)."
        )
    weight_map = read_json_file(index, MAX_SHARD_INDEX_BYTES, "not a shard index (one line per tensor)")
    weight_map = weight_map.get("weight_map") if isinstance(weight_map, dict) else None
    if (
        not isinstance(weight_map, dict)
        or not weight_map
        or not all(isinstance(shard, str) for shard in weight_map.values())
    ):
        raise CheckpointError(
            f"{index} is not a transformers shard index (a JSON object whose weight_map gives each tensor's "
            "shard file); save the model with save_pretrained again."
        )
    shards: dict[str, list[str]] = {}
    for name, shard in weight_map.items():
        if shard in ("", ".", "..") or Path(shard).name != shard or "\\" in shard:
            raise CheckpointError(
                f"{index} puts {name} in {shard!r}, which is not a file name beside it (a shard is a file of "
                f"{folder}); refused, nothing read."
            )
        shards.setdefault(shard, []).append(name)
    files = {}
    for shard, names in shards.items():
        file = hub_file(folder, shard)
        if not file.is_file():
            raise CheckpointError(
                f"{folder} has no {shard}, the shard {index.name} names for {names[0]}; download or save the "
                "whole model again."
            )
        files[file] = names
    return index, files


def _hf_weights(
    files: dict[Path, list[str] | None], described_by: Path, config: GPTConfig, limits: Limits | None
) -> dict[str, torch.Tensor]:
    """Our-named weights (Conv1D's transposed) from one model.safetensors or its shards, alike: every
    file's header is read and the shapes checked against the config (check_claims) before a byte of
    any tensor is read."""
    where: dict[str, tuple[Path, str]] = {}  # ours -> (file, the file's name)
    held = {}
    for file, names in files.items():
        with _safetensors(file) as f:
            present = set(f.keys())
            for name in present if names is None else names:
                if name not in present:
                    raise CheckpointError(
                        f"{described_by} names {name} in {file.name}, which does not hold it; download or save "
                        "the whole model again."
                    )
                # masks left out: the original hub files name GPT2Model's weights (wte.weight),
                # save_pretrained GPT2LMHeadModel's (transformer.wte.weight), both nanoGPT's names
                if DROPPED.fullmatch(_hf_name(name)):
                    continue
                ours = _renamed_one(_hf_name(name))
                if config.tied_lm_head and ours == "lm_head.weight":
                    continue  # transformers writes a tied head's copy or not, by version
                shape = tuple(f.get_slice(name).get_shape())
                held[ours] = shape[::-1] if CONV1D.fullmatch(ours) else shape
                where[ours] = (file, name)
    check_claims(config, held, described_by, limits)
    weights = {}
    for file in files:
        with _safetensors(file) as f:
            for ours, (source, name) in where.items():
                if source == file:
                    tensor = f.get_tensor(name)
                    # Conv1D's (in, out) -> a Linear's (out, in)
                    weights[ours] = tensor.t().contiguous() if CONV1D.fullmatch(ours) else tensor
    return weights


@contextlib.contextmanager
def _safetensors(file: Path):
    """safe_open, its errors (at opening or reading, a truncated file) one sentence naming the file."""
    try:
        with safe_open(str(file), framework="pt", device="cpu") as f:
            yield f
    except SafetensorError as e:
        raise CheckpointError(f"{file} is not a readable .safetensors file ({e}); it may be truncated.") from None


def _int_or_none(value) -> int | None:
    return value if type(value) is int else None if value is None else -1  # -1: fits nothing, is refused


def _hf_name(name: str) -> str:
    """A Hugging Face GPT-2 weight's name as GPT2LMHeadModel names it: the hub's original files name
    GPT2Model's weights without the transformer. prefix."""
    return name if name.startswith(("transformer.", "lm_head.")) else "transformer." + name


def _renamed_one(name: str, table=NANOGPT_NAMES) -> str:
    """One weight's name in ours, by the first pattern of `table` that matches (Hugging Face's names are
    nanoGPT's: nanoGPT took them from it)."""
    for pattern, ours in table:
        name, n = re.subn(rf"^{pattern}", ours, name)
        if n:
            break
    return name


def convert(
    src: str | os.PathLike,
    out: str | os.PathLike,
    meta_pkl: str | os.PathLike | None = None,
    vocab_text: str | os.PathLike | None = None,
    *,
    tokenizer: str | None = None,
    fallback_text: str | None = None,
    limits: Limits | None = None,
    step: int | None = None,
    stage: str | None = None,
    era: str | None = None,
) -> Checkpoint:
    """import_model, saved to `out` (.safetensors) and read back from it. The CLI and the app both
    open a model file through this one function."""
    imported = import_model(src, meta_pkl, vocab_text, tokenizer=tokenizer, fallback_text=fallback_text,
                            limits=limits, step=step, stage=stage, era=era)  # fmt: skip
    save_checkpoint(out, imported.model, imported.tokenizer, imported.meta)
    return load_checkpoint(out, limits=limits)


def summary(ckpt: Checkpoint) -> str:
    cfg, meta = ckpt.model.config, ckpt.meta
    if meta.get("source_format") == nanochat_run.SOURCE_FORMAT:
        return "\n".join([
            f"nanochat model from {meta['source_file']} -> {ckpt.path}",
            f"  {nanochat_run.describe(ckpt)}",
            f"  {meta['n_params']:,} parameters, {cfg.n_layer} layers x {cfg.n_head} heads "
            f"({cfg.n_kv_head} key/value) x {cfg.n_embd} wide, context {cfg.block_size}, vocabulary "
            f"{ckpt.tokenizer.vocab_size}",
        ])  # fmt: skip
    lines = [
        f"{meta['source_format']} model from {meta['source_file']} -> {ckpt.path}",
        f"  {meta['n_params']:,} parameters, {cfg.n_layer} layers x {cfg.n_head} heads x {cfg.n_embd} wide, "
        f"context {cfg.block_size}, vocabulary {cfg.vocab_size:,} ({_vocabulary_said(ckpt)})",
    ]
    if meta.get("iter_num") is not None:
        loss = meta.get("best_val_loss")
        lines.append(f"  iter {meta['iter_num']}" + (f", best val loss {loss:.4f}" if isinstance(loss, float) else ""))
    return "\n".join(lines)


def _vocabulary_said(ckpt: Checkpoint) -> str:
    tok, padded = ckpt.tokenizer, ckpt.meta.get("padded_vocab_size")
    if ckpt.meta.get("source_vocab") == GPT2:
        dropped = f"; the {padded - tok.vocab_size} padding rows of its {padded:,} dropped" if padded else ""
        return f"GPT-2's {tok.vocab_size:,} tokens{dropped}"
    return f"{tok.vocab_size} characters from {ckpt.meta['source_vocab']}"
