"""The package's shape, read from its source with `ast` (nothing is imported).

- No import cycle among lgan_cli modules.
- Training is a leaf of the house: no module outside `lgan_cli/train/` imports it, except the
  CLI's train command (models, faces, eval, hub, editing, data ... never do).

Every import counts, at module level and inside functions alike: a lazy import inside a
function is still a dependency (it only moves the moment it runs), and a loop through it is
still a loop a reader has to untangle. Imports under `if TYPE_CHECKING:` would count too
(there are none). An import of `a.b.c` is an edge to module `a.b.c` only, not to the
packages `a` and `a.b` that Python also initialises on the way: a package's `__init__`
re-exporting its own submodules would otherwise always be a "cycle".
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "lgan_cli"
TRAIN = "lgan_cli.train"
ALLOWED_INTO_TRAIN = {"lgan_cli.cli.train"}


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module and package of lgan_cli."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The module an imported name lives in: `lgan_cli.a.b.X` -> `lgan_cli.a.b` when that is a module."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The lgan_cli modules `module` imports anywhere in its file (relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            # `from a import b` imports module a.b when b is one, else a name defined in a
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name == "lgan_cli" or name.startswith("lgan_cli."):
                target = _known(name, modules)
                if target is not None and target != module:
                    found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, iterators = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while path:
            step = next(iterators[-1], None)
            if step is None:
                state[path.pop()] = 2
                iterators.pop()
            elif state.get(step) == 1:
                return path[path.index(step) :] + [step]
            elif not state.get(step):
                state[step] = 1
                path.append(step)
                iterators.append(iter(sorted(graph[step])))
    return None


def test_the_walker_sees_the_imports_it_must():
    graph = import_graph()
    assert "lgan_cli.cli.app" in graph and "lgan_cli.train.trainer" in graph
    assert "lgan_cli.cli.edit" in graph["lgan_cli.cli.app"]  # `from lgan_cli.cli import edit`
    assert "lgan_cli.train.trainer" in graph["lgan_cli.train.setup"]  # imported inside a function
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_only_the_train_command_imports_training():
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if not (module == TRAIN or module.startswith(TRAIN + ".")) and module not in ALLOWED_INTO_TRAIN
        for target in targets
        if target == TRAIN or target.startswith(TRAIN + ".")
    )
    assert not offenders, "imports into lgan_cli.train from outside it: " + "; ".join(offenders)
