"""What the build needs that pyproject.toml cannot say in TOML; hatchling runs this file.

- The runtime dependencies are requirements.txt's lines: one list, the one `make` installs.
- The wheel carries the shipped files in nanogpt/shipped/, under their paths in the repository,
  where nanogpt/shipped.py looks for them: every checkpoint at the top of checkpoints/ (the lecture
  model too, once it is there), the ablation results and tiny Shakespeare. Not the timelines: one
  model per saved step, they would take the wheel past 50 MB; nor resume states (optimiser moments).
"""

from __future__ import annotations

from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

PACKAGED = "nanogpt/shipped"  # nanogpt/shipped.py's PACKAGED


def requirements(root: str | Path) -> list[str]:
    """requirements.txt's requirements, without its comments."""
    lines = (Path(root) / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [req for req in (line.split("#", 1)[0].strip() for line in lines) if req]


def shipped_files(root: str | Path) -> list[str]:
    """The shipped files the wheel carries, as paths in the repository."""
    root = Path(root)
    checkpoints = [p for p in sorted((root / "checkpoints").glob("*.safetensors")) if ".resume." not in p.name]
    results = sorted((root / "checkpoints").glob("*.json"))
    return [p.relative_to(root).as_posix() for p in [*checkpoints, *results, root / "data" / "tinyshakespeare.txt"]]


class Requirements(MetadataHookInterface):
    def update(self, metadata: dict) -> None:
        metadata["dependencies"] = requirements(self.root)


class ShippedFiles(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if version == "editable":  # an editable install runs from the checkout, which has the files
            return
        for path in shipped_files(self.root):
            build_data["force_include"][str(Path(self.root) / path)] = f"{PACKAGED}/{path}"
