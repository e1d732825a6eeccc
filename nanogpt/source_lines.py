"""The line of code: where a GPTConfig switch acts in nanogpt/model.py, read from the source at run
time, so what the app shows next to an ablation never drifts from the code that runs."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from . import model as model_module

MODEL_SOURCE = Path(model_module.__file__)
CONFIG_NAMES = ("config", "cfg")  # what model.py calls its GPTConfig


def _scope_of(node, parents, kind):
    while node is not None and not isinstance(node, kind):
        node = parents.get(node)
    return node


def _names_used(node) -> set[str]:
    out = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.add(sub.id)
        elif isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "self":
            out.add(f"self.{sub.attr}")
    return out


def _key(node) -> str | None:
    """'x' for a name, 'self.x' for an attribute of self; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return f"self.{node.attr}"
    return None


def switch_lines(switch: str, depth: int = 2) -> list[tuple[int, str]]:
    """(line number, text) of every line in nanogpt/model.py that `config.<switch>` changes.

    The direct uses (`config.ffn`, `cfg.norm`), then, `depth` times over, the uses of whatever
    they were assigned to (`self.ffwd = ... if config.ffn ...` -> `self.ffwd(...)`), and the body
    of an `if` whose test depends on them.
    """
    source = inspect.getsource(model_module)
    lines = source.splitlines()
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

    def statement(node):
        return _scope_of(node, parents, ast.stmt)

    hits = [n for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and n.attr == switch
            and isinstance(n.value, ast.Name) and n.value.id in CONFIG_NAMES]  # fmt: skip
    functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    found: set[int] = set()
    seen: set[ast.AST] = set()
    for level in range(depth + 1):
        aliases = []  # (key, scope) pairs the hits were assigned to
        while hits:
            hit = hits.pop()
            if hit in seen:
                continue
            seen.add(hit)
            # passed to a function of model.py: its parameter is the same value, so its uses count at this level
            hits += _parameter_uses(hit, parents, functions)
            found.add(hit.lineno)
            stmt = statement(hit)
            if isinstance(stmt, (ast.If, ast.While)) and _contains(stmt.test, hit):
                for body in (*stmt.body, *stmt.orelse):
                    found.update(range(body.lineno, body.end_lineno + 1))
            if isinstance(stmt, ast.Assign):
                aliases += _assigned_from(stmt, hit, parents)
        if level == depth:
            break
        hits = []
        for key, scope in aliases:
            for n in ast.walk(scope):
                if _key(n) == key and isinstance(getattr(n, "ctx", None), ast.Load):
                    hits.append(n)
    return [(n, lines[n - 1].rstrip()) for n in sorted(found)]


def _contains(tree, node) -> bool:
    return any(sub is node for sub in ast.walk(tree))


def _parameter_uses(node, parents, functions: dict[str, ast.FunctionDef]) -> list[ast.AST]:
    """If `node` is an argument of a call to one of `functions`, the uses of the matching parameter inside it."""
    call = parents.get(node)
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in functions):
        return []
    function = functions[call.func.id]
    params = [a.arg for a in (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs)]
    if node in call.args:
        index = call.args.index(node)
        name = params[index] if index < len(params) else None
    else:
        name = next((kw.arg for kw in call.keywords if kw.value is node), None)
    if name is None:
        return []
    return [n for n in ast.walk(function) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)]


def _assigned_from(stmt: ast.Assign, hit, parents) -> list[tuple[str, ast.AST]]:
    """The names `stmt` binds from the value holding `hit`, each with the scope to search for uses."""
    pairs = []
    for target in stmt.targets:
        if (
            isinstance(target, ast.Tuple)
            and isinstance(stmt.value, ast.Tuple)
            and len(target.elts) == len(stmt.value.elts)
        ):
            pairs += [(t, v) for t, v in zip(target.elts, stmt.value.elts, strict=True) if _contains(v, hit)]
        elif isinstance(target, ast.Tuple):
            pairs += [(t, stmt.value) for t in target.elts]
        else:
            pairs.append((target, stmt.value))
    out = []
    for target, value in pairs:
        key = _key(target)
        if key is None or key in _names_used(value):
            continue  # x = x + ...: an update of x, following it would flood the whole forward
        # a local name is used in its function; an attribute of self anywhere in its class
        kind = ast.ClassDef if key.startswith("self.") else ast.FunctionDef
        scope = _scope_of(stmt, parents, kind)
        if scope is not None:
            out.append((key, scope))
    return out
