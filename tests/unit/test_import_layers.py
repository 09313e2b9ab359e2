"""No import cycle between tai_lab's modules at import time, and imports that follow the layers
of docs/architecture.md's module map (each layer imports only layers below it).

The graph is built from the source with ``ast``: the ``import`` statements a module runs when
it is imported (its top level, including ``try``/``if`` blocks there), not those inside
functions (deferred on purpose, to keep a heavy or optional dependency out of the start-up)
nor those under ``if TYPE_CHECKING:`` (never run).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "tai_lab"
MAP = ROOT / "docs/architecture.md"

# Cycles that exist today, each as the sorted list of its modules. Empty: keep it so — a new
# cycle fails the test; break it (move the shared piece down a layer, or import in the function
# that needs it) rather than adding it here.
KNOWN_CYCLES: list[list[str]] = []


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        if "_data" in path.relative_to(PKG).parts:
            continue
        parts = ["tai_lab", *path.relative_to(PKG).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    walk(node.body)
                walk(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                    walk(block)
            elif isinstance(node, ast.With):
                walk(node.body)
            # def / class bodies: a class body runs at import time too, but holds no import here.
    walk(tree.body)
    return found


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    """The tai_lab modules an import statement loads (a module's packages included)."""
    names: set[str] = set()
    if isinstance(node, ast.Import):
        names = {a.name for a in node.names}
    else:
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        names = {prefix}
        # `from pkg import sub` loads the submodule pkg.sub when there is one.
        names |= {f"{prefix}.{a.name}" for a in node.names if f"{prefix}.{a.name}" in known}
    out = set()
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):   # importing a.b.c runs a, a.b, a.b.c
            out.add(".".join(parts[:i]))
    own_packages = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 2)}
    # A module's own packages are being imported already when it runs: not an edge.
    return {t for t in out if t in known and t not in own_packages}


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[name] = set()
        for node in _top_level_imports(tree):
            graph[name] |= _targets(name, path.name == "__init__.py", node, known)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:   # Tarjan; the graph is small enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_the_graph_sees_the_pipeline() -> None:
    g = import_graph()
    # A few edges the layering is made of, so an empty graph cannot pass silently.
    assert "tai_lab.plan" in g["tai_lab.scenario.expand"]
    assert "tai_lab.plan" in g["tai_lab.provision"]
    assert "tai_lab.scenario" in g["tai_lab.scenario.load"] or "tai_lab.scenario.model" in g["tai_lab.scenario.load"]
    assert not g["tai_lab.plan"] - {"tai_lab"}, "the plan is pure data: it imports no other module"


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    found = cycles(import_graph())
    new = [c for c in found if c not in KNOWN_CYCLES]
    assert not new, "import cycles between tai_lab's modules (each layer imports only layers below it):\n" + \
        "\n".join(" ↔ ".join(c) for c in new)
    gone = [c for c in KNOWN_CYCLES if c not in found]
    assert not gone, f"these known cycles are gone: remove them from KNOWN_CYCLES: {gone}"


def module_map() -> list[str]:
    """The units of docs/architecture.md's module map, bottom to top: a module or a package."""
    text = MAP.read_text(encoding="utf-8").split("## Module map", 1)[1].split("\n## ", 1)[0]
    units = []
    for m in re.finditer(r"^- `tai_lab/([\w/]+?)(?:\.py|/)`", text, re.M):
        units.append("tai_lab." + m.group(1).replace("/", "."))
    return units


def _unit_of(module: str, units: list[str]) -> str | None:
    best = [u for u in units if module == u or module.startswith(u + ".")]
    return max(best, key=len) if best else None


def test_module_map_lists_every_module_once() -> None:
    units = module_map()
    assert len(units) == len(set(units)), "a unit is listed twice in the module map"
    mods = set(_modules()) - {"tai_lab"}
    assert not [u for u in units if u not in mods], "the module map lists modules that do not exist"
    missing = sorted(m for m in mods if _unit_of(m, units) is None)
    assert not missing, f"give these modules a line in docs/architecture.md's module map: {missing}"


def test_each_layer_imports_only_layers_below_it() -> None:
    units = module_map()
    rank = {u: i for i, u in enumerate(units)}
    upward = []
    for module, targets in import_graph().items():
        if module == "tai_lab":
            continue
        here = _unit_of(module, units)
        for target in targets - {"tai_lab"}:
            there = _unit_of(target, units)
            if rank[there] > rank[here]:
                upward.append(f"{module} imports {target} ({there} is listed after {here})")
    assert not upward, "imports that go up the module map (docs/architecture.md):\n" + "\n".join(sorted(upward))


# Inside a package the map lists its modules in order too ("a · b · c"): for these packages a
# module imports at import time only the modules listed before it (the registration module of
# the CLI comes last, the shared build step of the images first, the probes' model before the
# registry of kinds, the libvirt backend's connection before everything that uses it).
ORDERED_PACKAGES = ("tai_lab.cli", "tai_lab.images", "tai_lab.probes", "tai_lab.backends.libvirt")


def package_order(package: str) -> list[str]:
    text = MAP.read_text(encoding="utf-8").split("## Module map", 1)[1].split("\n## ", 1)[0]
    path = "tai_lab/" + package.removeprefix("tai_lab.").replace(".", "/") + "/"
    line = next(ln for ln in text.splitlines() if ln.startswith(f"- `{path}`"))
    listed = line.split(" — ", 1)[1].split(":", 1)[-1]
    return [f"{package}.{m.group(1)}" for m in (re.match(r"\s*`?(\w+)`?", chunk) for chunk in listed.split(" · ")) if m]


def test_modules_inside_the_ordered_packages_import_only_those_listed_before():
    graph = import_graph()
    problems = []
    for package in ORDERED_PACKAGES:
        order = package_order(package)
        rank = {m: i for i, m in enumerate(order)}
        rank[package] = rank.pop(f"{package}.__init__", len(order))   # the package's own module
        mods = sorted(m for m in graph if m == package or m.startswith(package + "."))
        unlisted = [m for m in mods if m not in rank]
        assert not unlisted, f"give these modules their place in the map's line of {package}: {unlisted}"
        for m in mods:
            for t in graph[m]:
                if t in rank and rank[t] > rank[m]:
                    problems.append(f"{m} imports {t}, listed after it")
    assert not problems, "imports that go up a package's line of the module map:\n" + "\n".join(problems)
