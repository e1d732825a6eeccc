import hashlib

import pytest
import torch

from nanogpt import data
from nanogpt.data import DataError, get_batch, load_text, split


def test_text_file_split_90_10(tiny_text_file, tiny_text):
    text = load_text(str(tiny_text_file))
    assert text.sha256 == hashlib.sha256(tiny_text.encode()).hexdigest()
    s = split(text, block_size=16)
    assert len(s.train) == int(0.9 * len(tiny_text)) and len(s.train) + len(s.val) == len(tiny_text)
    assert s.tokenizer.decode(s.val[:20]) == tiny_text[len(s.train) : len(s.train) + 20]


def test_batches_are_shifted_by_one(tiny_text_file):
    s = split(load_text(str(tiny_text_file)), block_size=16)
    x, y = get_batch(s.train, 4, 16, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 16)
    assert torch.equal(x[:, 1:], y[:, :-1])


def test_missing_file():
    with pytest.raises(DataError, match="no data file at 'nope.txt'.*tinyshakespeare"):
        load_text("nope.txt")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("  \n")
    with pytest.raises(DataError, match="empty.txt is empty"):
        load_text(str(path))


def test_file_too_short_for_the_context(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("To be, or not to be: that is the question.\n" * 3)
    with pytest.raises(DataError, match="too short for a context of 64.*--block_size"):
        split(load_text(str(path)), block_size=64)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Ça ira, ça ira".encode("latin-1") * 100)
    with pytest.raises(DataError, match="latin1.txt is not UTF-8 text"):
        load_text(str(path))


def test_the_shipped_copy_is_read_first_with_no_network_and_no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NANOGPT_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NANOGPT_TINYSHAKESPEARE_URL", (tmp_path / "unreachable" / "input.txt").as_uri())
    text = load_text("tinyshakespeare")
    assert hashlib.md5(text.text.encode()).hexdigest() == data.TINYSHAKESPEARE_MD5
    assert text.text.startswith(data.OPENING_LINES)
    assert not (tmp_path / "cache").exists()  # nothing downloaded, nothing cached


@pytest.fixture
def no_shipped_copy(tmp_path, monkeypatch):
    """As if the library were installed without the repository's data/ folder."""
    monkeypatch.setattr(data, "SHIPPED_TINYSHAKESPEARE", tmp_path / "no-repo" / "tinyshakespeare.txt")


def test_offline_tinyshakespeare_says_to_pass_a_file(tmp_path, monkeypatch, no_shipped_copy):
    monkeypatch.setenv("NANOGPT_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NANOGPT_TINYSHAKESPEARE_URL", (tmp_path / "unreachable" / "input.txt").as_uri())
    with pytest.raises(DataError, match="could not download tiny Shakespeare.*--data"):
        load_text("tinyshakespeare")
    assert not (tmp_path / "cache" / "tinyshakespeare.txt").exists()


def test_a_download_with_the_wrong_md5_is_not_cached(tmp_path, monkeypatch, no_shipped_copy):
    fake = tmp_path / "input.txt"
    fake.write_text("not Shakespeare at all\n" * 100)
    monkeypatch.setenv("NANOGPT_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NANOGPT_TINYSHAKESPEARE_URL", fake.as_uri())
    with pytest.raises(DataError, match="wrong md5"):
        load_text("tinyshakespeare")
    assert not (tmp_path / "cache" / "tinyshakespeare.txt").exists()


def test_a_cached_file_with_the_right_md5_is_used_without_network(tmp_path, monkeypatch, no_shipped_copy):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "tinyshakespeare.txt").write_text("First Citizen:\n" * 100)
    monkeypatch.setenv("NANOGPT_DATA_DIR", str(cache))
    monkeypatch.setattr(data, "TINYSHAKESPEARE_MD5", hashlib.md5(b"First Citizen:\n" * 100).hexdigest())
    assert load_text("tinyshakespeare").text.startswith("First Citizen:")


def test_shakespeare_plays_offline():
    text = load_text("shakespeare-plays").text
    assert len(text) > 4_000_000
    assert "HAMLET:\nTo be, or not to be" in text.replace("  \n", "\n")
    assert "**" not in text and "\n#" not in text  # markdown is gone


def test_python_stdlib_offline_is_this_pythons_own_source_in_name_order():
    source = load_text("python-stdlib")
    text = source.text
    assert len(text) > 1_000_000
    assert set(text) <= {"\n"} | {chr(c) for c in range(32, 127)}  # printable ASCII and newlines only
    assert "def " in text and "import " in text
    assert source.sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert load_text("python-stdlib").text == text  # the same text every time: a run can be repeated


def test_python_stdlib_without_sources_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(data.sysconfig, "get_paths", lambda: {"stdlib": str(tmp_path)})
    with pytest.raises(DataError, match="no Python source files"):
        load_text("python-stdlib")
