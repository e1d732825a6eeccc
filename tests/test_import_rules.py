"""The rules the tree states (ARCHITECTURE.md), read from every module's imports (AST): imports go
down the layers, never up; no view imports another view; no torch in views/ or figures/; no
streamlit or viz_app in nanogpt/; the processes that are not page runs (app_process, serve, cli)
and the page runs keep apart; no modules of the app import each other in a circle, not even inside a
function. A planted import shows each rule can fail."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# low to high: a module imports its own layer or lower. Longest prefix wins.
LAYERS = {
    "nanogpt": 0,
    "viz_app.compat": 1,  # Streamlit's internals: imports nothing of the app
    "viz_app.pages": 1,  # the page table (data)
    "viz_app.lesson_steps": 1,  # the Lesson's text (data)
    "viz_app.figures": 1,  # numpy -> Plotly
    "viz_app.backend": 2,  # torch, threads, caches
    "viz_app.serving": 3,  # processes that are not page runs: app_process, serve, cli
    "viz_app.state_keys": 4,  # the shell: page state (its keys, their life in the session) and links
    "viz_app.state_session": 4,
    "viz_app.state_links": 4,
    "viz_app.url_state": 4,
    "viz_app.guard": 4,
    "viz_app.delivery": 4,
    "viz_app.upload_state": 4,
    "viz_app.presenter": 4,
    "viz_app.export": 4,
    "viz_app.phone": 4,  # a phone's layout (the screen's width, the narrow figure style)
    "viz_app.a11y": 4,  # contrast, keys, text alternatives
    "viz_app.controls": 5,  # the page API
    "viz_app.page": 5,
    "viz_app.compare_section": 6,
    "viz_app.classroom": 6,
    "viz_app.sidebar": 7,
    "viz_app.views": 8,  # the pages
    "viz_app.app": 9,  # the router
    "viz_app.bench": 10,  # measures everything from outside
    "viz_app.screenshots": 10,  # make screenshots: pictures of the running app, from outside
    "viz_app": 0,  # the package's own __init__: nothing
}
PROCESSES = ("viz_app.serving",)
PAGE_RUN = tuple(name for name, layer in LAYERS.items() if 4 <= layer <= 9)  # the shell, the views, the router


def under(module: str, prefixes) -> bool:
    """module is one of prefixes or inside one (viz_app.apps would not be inside viz_app.app)."""
    return any(
        module == p or module.startswith(p + ".") for p in ((prefixes,) if isinstance(prefixes, str) else prefixes)
    )


def layer_of(module: str) -> tuple[str, int]:
    best = max((p for p in LAYERS if under(module, p)), key=len)
    return best, LAYERS[best]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_statements(source: str, module: str, is_package: bool):
    """(x, [names]) for every `from x import names` of `source` (x absolute), (x, []) for `import x`."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from ((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module
            yield origin, [alias.name for alias in node.names]


def imports(source: str, module: str, is_package: bool) -> set[str]:
    """Every module `source` imports (absolute names), and for `from x import y` also x.y."""
    found = set()
    for origin, names in import_statements(source, module, is_package):
        found.add(origin)
        found.update(f"{origin}.{name}" for name in names)
    return found


def broken_rules(module: str, imported: set[str]) -> list[str]:
    problems = []
    own, rank = layer_of(module)
    if own == "viz_app" and module != "viz_app":
        problems.append(f"{module}: not in LAYERS (tests/test_import_rules.py): say where it belongs")
    top = {name.split(".")[0] for name in imported}
    if module.startswith("nanogpt") and top & {"streamlit", "viz_app"}:
        problems.append(f"{module}: nanogpt imports {sorted(top & {'streamlit', 'viz_app'})}")
    if module.startswith(("viz_app.views", "viz_app.figures")) and "torch" in top:
        problems.append(f"{module}: torch in views/ or figures/ (numbers come from backend/)")
    if module.startswith("viz_app.figures") and "streamlit" in top:
        problems.append(f"{module}: figures are pure functions, no streamlit")
    for name in sorted(n for n in imported if n.startswith(("viz_app", "nanogpt"))):
        if name in ("viz_app", "nanogpt") or module.startswith("nanogpt"):
            continue
        theirs, their_rank = layer_of(name)
        if their_rank > rank:
            problems.append(f"{module} imports {name}: up from layer {rank} ({own}) to {their_rank} ({theirs})")
        if module.startswith("viz_app.views.") and name.startswith("viz_app.views.") and theirs == own:
            problems.append(f"{module} imports {name}: a view imports another view (pages.state_of)")
        if under(module, PAGE_RUN) and under(name, PROCESSES):
            problems.append(f"{module} imports {name}: a page run imports a process launcher")
        if under(module, PROCESSES) and under(name, (*PAGE_RUN, "viz_app.figures")):
            problems.append(f"{module} imports {name}: a process launcher imports a page run's module")
    return problems


def every_module():
    for path in sorted([*ROOT.glob("nanogpt/**/*.py"), *ROOT.glob("viz_app/**/*.py")]):
        module = module_name(path)
        yield module, imports(path.read_text(), module, path.name == "__init__.py")


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every set of modules that import each other round a circle (Tarjan's strongly connected components)."""
    index, low, stack, found = {}, {}, [], []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph.get(module, ())):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            circle = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(circle) > 1:
                found.append(sorted(circle))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def app_graph() -> dict[str, set[str]]:
    """viz_app's modules -> the viz_app modules each imports, at the top or inside a function. `from x
    import y` runs x.y when that is a module (a package's module importing its sibling: `from . import
    lead`), and x itself otherwise."""
    paths = {module_name(p): p for p in ROOT.glob("viz_app/**/*.py")}
    graph = {}
    for module, path in paths.items():
        edges = set()
        for origin, names in import_statements(path.read_text(), module, path.name == "__init__.py"):
            submodules = {f"{origin}.{name}" for name in names} & paths.keys()
            edges |= submodules if names and len(submodules) == len(names) else {origin, *submodules}
        graph[module] = {name for name in edges if name in paths and name != module}
    return graph


def test_the_tree_keeps_its_import_rules():
    problems = [p for module, imported in every_module() for p in broken_rules(module, imported)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "module, source, rule",
    [
        ("viz_app.backend.captures", "from viz_app import page", "up from layer 2"),
        ("viz_app.backend.captures", "from .. import sidebar", "up from layer 2"),
        ("viz_app.views.sharpness", "from viz_app.views import attention", "a view imports another view"),
        ("viz_app.views.sharpness", "import torch", "torch in views/"),
        ("viz_app.figures.heads", "from torch import nn", "torch in views/ or figures/"),
        ("viz_app.figures.heads", "import streamlit as st", "no streamlit"),
        ("nanogpt.model", "import streamlit", "nanogpt imports"),
        ("nanogpt.model", "from viz_app.backend import captures", "nanogpt imports"),
        ("viz_app.serving.serve", "from .. import page", "a process launcher imports a page run's module"),
        ("viz_app.page", "from .serving import serve", "a page run imports a process launcher"),
    ],
)
def test_a_planted_import_breaks_a_rule(module, source, rule):
    problems = broken_rules(module, imports(source, module, is_package=False))
    assert any(rule in p for p in problems), problems


def test_no_modules_of_the_app_import_each_other_in_a_circle():
    assert circles(app_graph()) == []
    planted = app_graph()  # the bench's old circle: the cases imported follow, which imported the cases
    planted["viz_app.bench.follow"].add("viz_app.bench.classroom")
    assert circles(planted) == [["viz_app.bench.classroom", "viz_app.bench.follow"]]
