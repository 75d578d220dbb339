"""Generate the synchronous client (``moengage_segments/_sync/``) from the async one.

The sync twin is not a second implementation: every generated method is a real ``def`` with the async
method's name, parameters, defaults, mapped annotations and docstring, whose body hands the async method to
the client's :class:`~moengage_segments._runtime.Portal` (one private event-loop thread per client).

Reads ``moengage_segments/_async/client.py`` with :mod:`ast` (nothing is imported), starting at
``AsyncClient`` and following every namespace attribute whose type is an ``Async*`` class (also into other
``_async`` modules). Anything it cannot mirror faithfully stops the generator with an error naming the
source line, rather than producing a subtly different API.

Usage::

    python tools/gen_sync.py           # rewrite moengage_segments/_sync/
    python tools/gen_sync.py --check   # exit 1 with a unified diff when the committed files are stale
"""

from __future__ import annotations

import argparse
import ast
import builtins
import copy
import difflib
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_MODULE = "moengage_segments._async.client"
CLIENT_CLASS = "AsyncClient"
OUTPUT_PACKAGE = "moengage_segments._sync"
RUNTIME_MODULE = "moengage_segments._runtime"

#: Async types of the standard library and their blocking counterparts (imported from collections.abc).
TYPE_MAP = {
    "AsyncIterator": "Iterator",
    "AsyncIterable": "Iterable",
    "AsyncGenerator": "Generator",
}
#: Protocol methods and their blocking counterparts.
METHOD_MAP = {"__aenter__": "__enter__", "__aexit__": "__exit__", "aclose": "close"}
_ITERATOR_RETURNS = set(TYPE_MAP)
_AWAITABLES = {"Awaitable", "Coroutine"}


class GenError(Exception):
    """The async source contains something the generator cannot mirror faithfully."""


def sync_name(name: str) -> str:
    """``AsyncFileSegments`` -> ``FileSegments``."""
    return name[len("Async") :]


def sync_docstring(doc: str, class_map: dict[str, str]) -> str:
    """Rewrite a docstring of the async API for the sync one.

    ``await x`` -> ``x``, ``async with``/``async for`` -> ``with``/``for``, ``aclose()`` -> ``close()``,
    ``__aenter__``/``__aexit__`` -> ``__enter__``/``__exit__`` and ``Async*`` class names -> sync names.

    Example::

        assert sync_docstring("await client.aclose()", {}) == "client.close()"
    """
    doc = re.sub(r"\basync with\b", "with", doc)
    doc = re.sub(r"\basync for\b", "for", doc)
    doc = re.sub(r"\bawait\s+", "", doc)
    doc = re.sub(r"\baclose\(\)", "close()", doc)
    doc = re.sub(r"``aclose``", "``close``", doc)
    doc = doc.replace("__aenter__", "__enter__").replace("__aexit__", "__exit__")
    for old in sorted({**TYPE_MAP, **class_map}, key=len, reverse=True):
        new = {**TYPE_MAP, **class_map}[old]
        doc = re.sub(rf"\b{old}\b", new, doc)
    return doc


CLIENT_NOTE = """
    This blocking client is generated from the async one and runs every call on its own private
    event-loop thread (started by the first call, stopped by ``close()``), so it works in scripts,
    threads and notebooks alike, including from a thread that already runs an event loop.
    See ``docs/sync.md``."""


def client_docstring(doc: str) -> str:
    """The client's docstring: ``asynchronous`` -> ``blocking`` in its summary line, plus a note on the
    event-loop thread before the example.

    Example::

        assert client_docstring("The asynchronous client.").startswith("The blocking client.")
    """
    first, sep, rest = doc.partition("\n")
    doc = re.sub(r"\basynchronous\b", "blocking", first) + sep + rest
    at = doc.find("\n\n    Example::")
    if at < 0:
        return doc.rstrip() + "\n" + CLIENT_NOTE + "\n    "
    return doc[:at] + "\n" + CLIENT_NOTE + doc[at:]


# --------------------------------------------------------------------------------------------------
# Reading the source


@dataclass
class Origin:
    """Where a module-level name of a source module comes from."""

    module: str  # absolute module to import from
    name: str | None  # attribute imported (None for ``import module``/``import module as x``)
    type_checking: bool = False


@dataclass
class SourceModule:
    name: str
    path: Path
    tree: ast.Module
    origins: dict[str, Origin] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)

    def where(self, node: ast.AST) -> str:
        return f"{self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path}:" + str(
            getattr(node, "lineno", "?")
        )


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(module: str | None, level: int, current: str) -> str:
    if level == 0:
        assert module is not None
        return module
    parts = current.split(".")[:-level]
    return ".".join([*parts, module] if module else parts)


def load_module(name: str, root: Path) -> SourceModule:
    path = root.joinpath(*name.split(".")).with_suffix(".py")
    if not path.exists():
        path = root.joinpath(*name.split("."), "__init__.py")
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    mod = SourceModule(name, path, tree)

    def record(stmts: Iterable[ast.stmt], type_checking: bool) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    local = alias.asname or alias.name.split(".")[0]
                    target = alias.name if alias.asname else alias.name.split(".")[0]
                    mod.origins[local] = Origin(target, None, type_checking)
            elif isinstance(stmt, ast.ImportFrom):
                absolute = _absolute(stmt.module, stmt.level, name)
                for alias in stmt.names:
                    mod.origins[alias.asname or alias.name] = Origin(absolute, alias.name, type_checking)
            elif isinstance(stmt, ast.If) and _is_type_checking(stmt.test):
                record(stmt.body, True)
            elif isinstance(stmt, ast.ClassDef):
                mod.classes[stmt.name] = stmt
                mod.origins[stmt.name] = Origin(name, stmt.name)
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                mod.origins[stmt.name] = Origin(name, stmt.name)
            elif isinstance(stmt, ast.Assign):
                for target_node in stmt.targets:
                    if isinstance(target_node, ast.Name):
                        mod.origins[target_node.id] = Origin(name, target_node.id)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                mod.origins[stmt.target.id] = Origin(name, stmt.target.id)
            elif sys.version_info >= (3, 12) and isinstance(stmt, ast.TypeAlias):  # pragma: no cover
                mod.origins[stmt.name.id] = Origin(name, stmt.name.id)

    record(tree.body, False)
    return mod


# --------------------------------------------------------------------------------------------------
# Model of what gets mirrored


@dataclass
class Namespace:
    """A public attribute of a mirrored class whose value is another mirrored (namespace) class."""

    attr: str
    async_class: str


@dataclass
class Mirrored:
    async_name: str
    module: SourceModule
    node: ast.ClassDef
    namespaces: list[Namespace] = field(default_factory=list)
    members: list[ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=list)

    @property
    def sync_name(self) -> str:
        return sync_name(self.async_name)


def _names_in(node: ast.AST) -> Iterator[str]:
    """Names an expression reads (string forward references are parsed by the mapper first)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            yield sub.id


def _decorator_names(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    names = []
    for dec in fn.decorator_list:
        names.append(ast.unparse(dec))
    return names


def _is_async_generator(fn: ast.AsyncFunctionDef) -> bool:
    def walk(node: ast.AST) -> Iterator[ast.AST]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue  # a nested function's yield is its own
            yield child
            yield from walk(child)

    return any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in walk(fn))


class Generator:
    """Builds the sync module from the async sources. See the module docstring."""

    def __init__(
        self,
        source_module: str = SOURCE_MODULE,
        *,
        root: Path = ROOT,
        client_class: str = CLIENT_CLASS,
        output_package: str = OUTPUT_PACKAGE,
        runtime_module: str = RUNTIME_MODULE,
    ) -> None:
        self.root = root
        self.source_module = source_module
        self.client_class = client_class
        self.output_package = output_package
        self.runtime_module = runtime_module
        self.modules: dict[str, SourceModule] = {}
        self.mirrored: dict[str, Mirrored] = {}
        # local name in the generated module -> Origin, plus whether it is needed at runtime
        self.imports: dict[str, Origin] = {}
        self.runtime_names: set[str] = set()

    # -- discovery ----------------------------------------------------------------------------------

    def module(self, name: str) -> SourceModule:
        if name not in self.modules:
            self.modules[name] = load_module(name, self.root)
        return self.modules[name]

    def resolve_class(self, name: str, mod: SourceModule, where: ast.AST) -> tuple[str, SourceModule]:
        """Find the ClassDef of an ``Async*`` name used in ``mod``; it must live in the source package."""
        if name in mod.classes:
            return name, mod
        origin = mod.origins.get(name)
        package = self.source_module.rsplit(".", 1)[0]
        if origin is None or origin.name is None or not origin.module.startswith(package):
            raise GenError(f"{mod.where(where)}: {name} is not a class of {package}; cannot mirror it")
        other = self.module(origin.module)
        if origin.name not in other.classes:
            raise GenError(f"{mod.where(where)}: {origin.module}.{origin.name} is not a class")
        return origin.name, other

    def discover(self) -> None:
        root = self.module(self.source_module)
        if self.client_class not in root.classes:
            raise GenError(f"{root.path}: no class {self.client_class}")
        queue = [(self.client_class, root)]
        while queue:
            name, mod = queue.pop(0)
            if name in self.mirrored:
                if self.mirrored[name].module is not mod:
                    raise GenError(f"two classes named {name} in {self.mirrored[name].module.name} and {mod.name}")
                continue
            info = Mirrored(name, mod, mod.classes[name])
            self.mirrored[name] = info
            self._scan_class(info)
            for ns in info.namespaces:
                cls_name, cls_mod = self.resolve_class(ns.async_class, mod, info.node)
                ns.async_class = cls_name
                queue.append((cls_name, cls_mod))

    def _scan_class(self, info: Mirrored) -> None:
        node, mod = info.node, info.module
        for base in node.bases:
            base_name = ast.unparse(base)
            if base_name not in ("object",) and not base_name.startswith("Generic"):
                raise GenError(
                    f"{mod.where(node)}: {node.name} has base {base_name}; inherited methods are "
                    "not mirrored (flatten the class or teach the generator)"
                )
        attrs: dict[str, ast.expr | None] = {}
        for stmt in node.body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # docstring
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                if not stmt.target.id.startswith("_"):
                    attrs[stmt.target.id] = stmt.annotation
                continue
            if isinstance(stmt, ast.Assign):
                public = [t for t in stmt.targets if not (isinstance(t, ast.Name) and t.id.startswith("_"))]
                if public:
                    raise GenError(f"{mod.where(stmt)}: public class attribute in {node.name} cannot be mirrored")
                continue
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if stmt.name == "__init__":
                    for sub in stmt.body:
                        self._scan_init_stmt(sub, attrs, mod)
                    info.members.append(stmt)
                elif stmt.name in METHOD_MAP or stmt.name == "__repr__" or not stmt.name.startswith("_"):
                    info.members.append(stmt)
                continue
            if isinstance(stmt, ast.Pass):
                continue
            raise GenError(f"{mod.where(stmt)}: unexpected statement in class {node.name}")
        for attr, annotation in attrs.items():
            if annotation is None:
                raise GenError(f"{mod.where(node)}: public attribute {node.name}.{attr} needs an annotation")
            ann_names = [n for n in _names_in(annotation) if n.startswith("Async") and n not in TYPE_MAP]
            if isinstance(annotation, ast.Name) and ann_names == [annotation.id]:
                info.namespaces.append(Namespace(attr, annotation.id))
            else:
                raise GenError(
                    f"{mod.where(node)}: public attribute {node.name}.{attr}: {ast.unparse(annotation)} is not "
                    "an Async* namespace; make it a property to have it mirrored"
                )

    @staticmethod
    def _scan_init_stmt(stmt: ast.stmt, attrs: dict[str, ast.expr | None], mod: SourceModule) -> None:
        targets: list[ast.expr] = []
        annotation: ast.expr | None = None
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, ast.AnnAssign):
            targets, annotation = [stmt.target], stmt.annotation
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
                and not target.attr.startswith("_")
            ):
                if annotation is not None:
                    attrs[target.attr] = annotation
                elif target.attr not in attrs:
                    value = stmt.value if isinstance(stmt, (ast.Assign, ast.AnnAssign)) else None
                    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
                        attrs[target.attr] = ast.Name(value.func.id, ast.Load())
                    else:
                        attrs[target.attr] = None

    # -- annotations --------------------------------------------------------------------------------

    def map_annotation(self, node: ast.expr, mod: SourceModule, *, param: bool, where: ast.AST) -> ast.expr:
        """Return a mapped copy of an annotation; record the names it needs."""
        mapped = self._map(copy.deepcopy(node), mod, param=param, where=where)
        if param:
            mapped = _dedupe_union(mapped)
        self._need(mapped, mod, where, runtime=False)
        return mapped

    def _map(self, node: ast.expr, mod: SourceModule, *, param: bool, where: ast.AST) -> ast.expr:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                parsed = ast.parse(node.value, mode="eval").body
            except SyntaxError as exc:
                raise GenError(f"{mod.where(where)}: cannot parse annotation {node.value!r}") from exc
            return self._map(parsed, mod, param=param, where=where)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            head = node.value.id
            if head == "Literal":
                return node  # its strings are values, not forward references
            if head in _AWAITABLES:
                raise GenError(f"{mod.where(where)}: {head}[...] in a signature cannot be mirrored")
            if head == "AsyncGenerator":
                args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
                mapped = [self._map(a, mod, param=param, where=where) for a in args]
                return ast.Subscript(
                    ast.Name("Generator", ast.Load()),
                    ast.Tuple([*mapped, ast.Constant(None)], ast.Load()),
                    ast.Load(),
                )
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and param:
            # `Iterable[str] | AsyncIterable[str]` -> `Iterable[str]`: the async alternative maps onto the
            # sync one. An async-only parameter would need an adapter, so it is an error below.
            members = _union_members(node)
            dumps = {ast.dump(m) for m in members}
            kept = [
                m
                for m in members
                if not (_mentions_async_type(m) and ast.dump(self._map_names(copy.deepcopy(m))) in dumps)
            ]
            node = _make_union(kept)
        if isinstance(node, ast.Name):
            if node.id in _AWAITABLES:
                raise GenError(f"{mod.where(where)}: {node.id} in a signature cannot be mirrored")
            if node.id in TYPE_MAP:
                if param:
                    raise GenError(
                        f"{mod.where(where)}: parameter type {node.id} has no sync alternative in its union; "
                        "accept `Iterable[T] | AsyncIterable[T]` to have it mirrored"
                    )
                return ast.Name(TYPE_MAP[node.id], ast.Load())
            if node.id.startswith("Async"):
                cls_name, _ = self.resolve_class(node.id, mod, where)
                if cls_name not in self.mirrored:
                    raise GenError(
                        f"{mod.where(where)}: {node.id} is used in a signature but is not a namespace "
                        "of the client, so it has no sync twin"
                    )
                return ast.Name(sync_name(cls_name), ast.Load())
            return node
        if isinstance(node, ast.Attribute):
            if node.attr in TYPE_MAP or node.attr in _AWAITABLES or node.attr.startswith("Async"):
                raise GenError(f"{mod.where(where)}: use the bare name instead of {ast.unparse(node)}")
            return node
        for name, value in ast.iter_fields(node):
            if isinstance(value, ast.expr):
                setattr(node, name, self._map(value, mod, param=param, where=where))
            elif isinstance(value, list):
                setattr(
                    node,
                    name,
                    [self._map(v, mod, param=param, where=where) if isinstance(v, ast.expr) else v for v in value],
                )
        return node

    @staticmethod
    def _map_names(node: ast.expr) -> ast.expr:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in TYPE_MAP:
                sub.id = TYPE_MAP[sub.id]
        return node

    def _need(self, node: ast.AST, mod: SourceModule, where: ast.AST, *, runtime: bool) -> None:
        """Record that the generated module must be able to resolve every name in ``node``."""
        for name in _names_in(node):
            self.need_name(name, mod, where, runtime=runtime)

    def need_name(self, name: str, mod: SourceModule, where: ast.AST, *, runtime: bool) -> None:
        sync_classes = {m.sync_name for m in self.mirrored.values()}
        if name in sync_classes:
            return
        if name in ("Iterator", "Iterable", "Generator") and name not in mod.origins:
            origin: Origin | None = Origin("collections.abc", name)
        elif name in mod.origins:
            origin = mod.origins[name]
        elif hasattr(builtins, name):
            return
        else:
            raise GenError(f"{mod.where(where)}: cannot resolve name {name!r}")
        assert origin is not None
        if runtime and origin.type_checking:
            raise GenError(f"{mod.where(where)}: {name} is needed at runtime but imported under TYPE_CHECKING")
        known = self.imports.get(name)
        if known is not None and (known.module, known.name) != (origin.module, origin.name):
            raise GenError(
                f"{mod.where(where)}: name {name!r} means {known.module}.{known.name} and "
                f"{origin.module}.{origin.name} in different source modules"
            )
        if known is None or (known.type_checking and not origin.type_checking):
            self.imports[name] = origin
        if runtime:
            self.runtime_names.add(name)

    # -- code building ------------------------------------------------------------------------------

    def build(self) -> str:
        self.discover()
        class_map = {name: sync_name(name) for name in self.mirrored}
        clashes = set(class_map.values()) & {
            n for m in self.modules.values() for n in m.origins if not n.startswith("Async")
        }
        if clashes:
            raise GenError(f"sync class names clash with names of the async modules: {sorted(clashes)}")
        classes = [self.build_class(info, class_map) for info in self.mirrored.values()]
        # the client first, then namespaces in source order: a stable, readable order
        order = sorted(
            zip(self.mirrored.values(), classes, strict=True),
            key=lambda pair: (pair[0].async_name != self.client_class, pair[0].module.name, pair[0].node.lineno),
        )
        body: list[ast.stmt] = [ast.ImportFrom("__future__", [ast.alias("annotations")], 0)]
        body += self.import_statements()
        exported = [info.sync_name for info, _ in order]
        body.append(
            ast.Assign(
                [ast.Name("__all__", ast.Store())],
                ast.List([ast.Constant(n) for n in sorted(exported)], ast.Load()),
                lineno=0,
            )
        )
        body += [cls for _, cls in order]
        module = ast.Module(body=body, type_ignores=[])
        ast.fix_missing_locations(module)
        sources = ", ".join(
            sorted(m.name for m in self.modules.values() if any(info.module is m for info in self.mirrored.values()))
        )
        doc = (
            f'"""Blocking twin of :mod:`{self.source_module}`: {", ".join(sorted(exported))}.\n\n'
            "Every method runs the async method of the same name on the client's private event-loop thread\n"
            "(see :mod:`moengage_segments._runtime`).\n"
            '"""\n'
        )
        header = (
            f"# GENERATED by tools/gen_sync.py from {sources}. DO NOT EDIT.\n"
            "# Change the async code, then run `python tools/gen_sync.py` (CI runs it with --check).\n"
        )
        return header + doc + "\n" + ast.unparse(module) + "\n"

    def import_statements(self) -> list[ast.stmt]:
        runtime: dict[str, list[ast.alias]] = {}
        typing_only: dict[str, list[ast.alias]] = {}
        plain: list[ast.stmt] = []
        for local, origin in sorted(self.imports.items()):
            if origin.name is None:
                alias = ast.alias(origin.module, None if origin.module == local else local)
                plain.append(ast.Import([alias]))
                continue
            target = typing_only if origin.type_checking and local not in self.runtime_names else runtime
            target.setdefault(origin.module, []).append(ast.alias(origin.name, None if origin.name == local else local))
        stmts: list[ast.stmt] = list(plain)
        for module, aliases in sorted(runtime.items()):
            stmts.append(ast.ImportFrom(module, aliases, 0))
        if typing_only:
            stmts.insert(0, ast.ImportFrom("typing", [ast.alias("TYPE_CHECKING")], 0))
            stmts.append(
                ast.If(
                    ast.Name("TYPE_CHECKING", ast.Load()),
                    [ast.ImportFrom(m, a, 0) for m, a in sorted(typing_only.items())],
                    [],
                )
            )
        return stmts

    def build_class(self, info: Mirrored, class_map: dict[str, str]) -> ast.ClassDef:
        mod = info.module
        is_client = info.async_name == self.client_class
        body: list[ast.stmt] = []
        doc = ast.get_docstring(info.node, clean=False)
        if doc is None:
            raise GenError(f"{mod.where(info.node)}: class {info.async_name} has no docstring")
        doc = sync_docstring(doc, class_map)
        body.append(ast.Expr(ast.Constant(client_docstring(doc) if is_client else doc)))
        self.need_name(info.async_name, mod, info.node, runtime=is_client)
        self.imports.setdefault("Portal", Origin(self.runtime_module, "Portal"))
        self.runtime_names.add("Portal")

        init = next((m for m in info.members if m.name == "__init__"), None)
        if is_client:
            if init is None:
                raise GenError(f"{mod.where(info.node)}: {info.async_name} has no __init__")
            if not any(m.name == "aclose" for m in info.members):
                raise GenError(f"{mod.where(info.node)}: {info.async_name} has no aclose()")
            body.append(self.client_init(info, init, class_map))
        else:
            body.append(self.namespace_init(info))
        for member in info.members:
            if member.name == "__init__":
                continue
            body.append(self.build_method(info, member, class_map))
        return ast.ClassDef(name=info.sync_name, bases=[], keywords=[], body=body, decorator_list=[])

    def _namespace_assignments(self, info: Mirrored) -> list[ast.stmt]:
        stmts: list[ast.stmt] = []
        for ns in info.namespaces:
            cls = sync_name(ns.async_class)
            stmts.append(
                ast.AnnAssign(
                    target=ast.Attribute(ast.Name("self", ast.Load()), ns.attr, ast.Store()),
                    annotation=ast.Name(cls, ast.Load()),
                    value=ast.Call(
                        ast.Name(cls, ast.Load()),
                        [_self_attr("_async", ns.attr), _self_attr("_portal")],
                        [],
                    ),
                    simple=0,
                )
            )
        return stmts

    def namespace_init(self, info: Mirrored) -> ast.FunctionDef:
        args = ast.arguments(
            posonlyargs=[],
            args=[
                ast.arg("self"),
                ast.arg("async_namespace", ast.Name(info.async_name, ast.Load())),
                ast.arg("portal", ast.Name("Portal", ast.Load())),
            ],
            vararg=None,
            kwonlyargs=[],
            kw_defaults=[],
            kwarg=None,
            defaults=[],
        )
        body: list[ast.stmt] = [
            _assign_self("_async", ast.Name("async_namespace", ast.Load())),
            _assign_self("_portal", ast.Name("portal", ast.Load())),
            *self._namespace_assignments(info),
        ]
        return _function("__init__", args, body, ast.Constant(None))

    def client_init(
        self, info: Mirrored, init: ast.FunctionDef | ast.AsyncFunctionDef, class_map: dict[str, str]
    ) -> ast.FunctionDef:
        if isinstance(init, ast.AsyncFunctionDef):
            raise GenError(f"{info.module.where(init)}: async __init__")
        args = self.mirror_arguments(info, init)
        call = ast.Call(ast.Name(info.async_name, ast.Load()), *_forward(init.args))
        body: list[ast.stmt] = []
        doc = ast.get_docstring(init, clean=False)
        if doc is not None:
            body.append(ast.Expr(ast.Constant(sync_docstring(doc, class_map))))
        body += [
            _assign_self("_async", call),
            # The async client's aclose() runs on the loop thread when the sync client closes.
            _assign_self(
                "_portal",
                ast.Call(
                    ast.Name("Portal", ast.Load()),
                    [],
                    [ast.keyword("cleanup", _self_attr("_async", "aclose"))],
                ),
            ),
            *self._namespace_assignments(info),
        ]
        return _function("__init__", args, body, ast.Constant(None))

    def mirror_arguments(self, info: Mirrored, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.arguments:
        mod = info.module
        args = copy.deepcopy(fn.args)
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        for arg in every:
            if arg is None or (arg is every[0] and arg.arg == "self"):
                continue
            if arg.annotation is None:
                raise GenError(f"{mod.where(fn)}: parameter {arg.arg} of {fn.name} has no annotation")
            arg.annotation = self.map_annotation(arg.annotation, mod, param=True, where=fn)
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self._need(default, mod, fn, runtime=True)
        if not every or every[0] is None or every[0].arg != "self":
            raise GenError(f"{mod.where(fn)}: {fn.name} must be an instance method")
        return args

    def build_method(
        self, info: Mirrored, fn: ast.FunctionDef | ast.AsyncFunctionDef, class_map: dict[str, str]
    ) -> ast.FunctionDef:
        mod = info.module
        where = mod.where(fn)
        decorators = _decorator_names(fn)
        if fn.name == "__repr__":
            # "AsyncClient(...)" -> "Client(...)": same content, the sync class name.
            body: list[ast.stmt] = [
                ast.Return(
                    ast.Call(
                        ast.Attribute(
                            ast.Call(ast.Name("repr", ast.Load()), [_self_attr("_async")], []), "replace", ast.Load()
                        ),
                        [ast.Constant(info.async_name), ast.Constant(info.sync_name), ast.Constant(1)],
                        [],
                    )
                )
            ]
            return _function("__repr__", self.mirror_arguments(info, fn), body, ast.Name("str", ast.Load()))
        doc = ast.get_docstring(fn, clean=False)
        if doc is None:
            raise GenError(f"{where}: {info.async_name}.{fn.name} has no docstring")
        doc_stmt = ast.Expr(ast.Constant(sync_docstring(doc, class_map)))
        if fn.returns is None:
            raise GenError(f"{where}: {fn.name} has no return annotation")
        args = self.mirror_arguments(info, fn)
        name = METHOD_MAP.get(fn.name, fn.name)
        target = _self_attr("_async", fn.name)
        positional, keywords = _forward(fn.args)

        if decorators == ["property"]:
            if isinstance(fn, ast.AsyncFunctionDef):
                raise GenError(f"{where}: async property")
            returns = self.map_annotation(fn.returns, mod, param=False, where=fn)
            out = _function(name, args, [doc_stmt, ast.Return(target)], returns)
            out.decorator_list = [ast.Name("property", ast.Load())]
            return out
        if decorators:
            raise GenError(f"{where}: decorators {decorators} on {fn.name} cannot be mirrored")

        if fn.name == "__aenter__":
            returns = self.map_annotation(fn.returns, mod, param=False, where=fn)
            body = [
                doc_stmt,
                ast.Expr(_portal("call", [target])),
                ast.Return(ast.Name("self", ast.Load())),
            ]
            return _function(name, args, body, returns)
        if fn.name == "__aexit__":
            # Leaving `with` closes the client, which also stops its loop thread.
            body = [doc_stmt, ast.Expr(ast.Call(_self_attr("close"), [], []))]
            return _function(name, args, body, self.map_annotation(fn.returns, mod, param=False, where=fn))
        if fn.name == "aclose":
            # Portal.close() runs the async aclose() (its cleanup callback) and joins the thread.
            body = [doc_stmt, ast.Expr(ast.Call(_self_attr("_portal", "close"), [], []))]
            return _function(name, args, body, self.map_annotation(fn.returns, mod, param=False, where=fn))

        returns_node = fn.returns
        head = _head(returns_node)
        iterator_return = head in _ITERATOR_RETURNS
        if isinstance(fn, ast.AsyncFunctionDef):
            if _is_async_generator(fn):
                if not iterator_return:
                    raise GenError(f"{where}: async generator {fn.name} must be annotated AsyncIterator[...]")
                value = _portal("iterate", [ast.Call(target, positional, keywords)])
            elif iterator_return:
                value = _portal("iterate", [_portal("call", [target, *positional], keywords)])
            else:
                value = _portal("call", [target, *positional], keywords)
        else:
            if head in _AWAITABLES:
                if not isinstance(returns_node, ast.Subscript):
                    raise GenError(f"{where}: bare {head} return type")
                inner = returns_node.slice
                returns_node = inner.elts[-1] if isinstance(inner, ast.Tuple) else inner
                value = _portal("call", [target, *positional], keywords)
            elif iterator_return:
                value = _portal("iterate", [ast.Call(target, positional, keywords)])
            else:
                value = ast.Call(target, positional, keywords)
        returns = self.map_annotation(returns_node, mod, param=False, where=fn)
        is_none = isinstance(returns, ast.Constant) and returns.value is None
        stmt: ast.stmt = ast.Expr(value) if is_none else ast.Return(value)
        return _function(name, args, [doc_stmt, stmt], returns)


def _head(node: ast.expr) -> str | None:
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return _head(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return None
    return None


def _union_members(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return [*_union_members(node.left), *_union_members(node.right)]
    return [node]


def _make_union(members: list[ast.expr]) -> ast.expr:
    result = members[0]
    for m in members[1:]:
        result = ast.BinOp(result, ast.BitOr(), m)
    return result


def _dedupe_union(node: ast.expr) -> ast.expr:
    members = _union_members(node)
    seen: dict[str, ast.expr] = {}
    for m in members:
        seen.setdefault(ast.dump(m), m)
    return _make_union(list(seen.values())) if len(seen) != len(members) else node


def _mentions_async_type(node: ast.expr) -> bool:
    return any(isinstance(n, ast.Name) and n.id in TYPE_MAP for n in ast.walk(node))


def _self_attr(*names: str) -> ast.expr:
    node: ast.expr = ast.Name("self", ast.Load())
    for name in names:
        node = ast.Attribute(node, name, ast.Load())
    return node


def _assign_self(attr: str, value: ast.expr) -> ast.stmt:
    return ast.Assign([ast.Attribute(ast.Name("self", ast.Load()), attr, ast.Store())], value, lineno=0)


def _portal(method: str, args: list[ast.expr], keywords: list[ast.keyword] | None = None) -> ast.expr:
    return ast.Call(_self_attr("_portal", method), args, keywords or [])


def _forward(args: ast.arguments) -> tuple[list[ast.expr], list[ast.keyword]]:
    """Arguments that pass a signature's parameters on unchanged (self excluded)."""
    positional: list[ast.expr] = [ast.Name(a.arg, ast.Load()) for a in [*args.posonlyargs, *args.args][1:]]
    if args.vararg is not None:
        positional.append(ast.Starred(ast.Name(args.vararg.arg, ast.Load()), ast.Load()))
    keywords = [ast.keyword(a.arg, ast.Name(a.arg, ast.Load())) for a in args.kwonlyargs]
    if args.kwarg is not None:
        keywords.append(ast.keyword(None, ast.Name(args.kwarg.arg, ast.Load())))
    return positional, keywords


def _function(name: str, args: ast.arguments, body: list[ast.stmt], returns: ast.expr) -> ast.FunctionDef:
    fn = ast.FunctionDef(name=name, args=args, body=body, decorator_list=[], returns=returns, type_comment=None)
    if sys.version_info >= (3, 12):  # pragma: no cover
        fn.type_params = []
    return fn


# --------------------------------------------------------------------------------------------------
# Formatting, writing, checking


def format_source(source: str, path: Path) -> str:
    """Sort imports and format with ruff when it is installed; the AST is the same either way."""
    ruff = [sys.executable, "-m", "ruff"]
    stdin = ["--quiet", "--stdin-filename", str(path), "-"]
    for cmd in ([*ruff, "check", "--select", "I", "--fix", *stdin], [*ruff, "format", *stdin]):
        try:
            proc = subprocess.run(cmd, input=source, capture_output=True, text=True, cwd=ROOT, check=False)
        except OSError:
            return source
        if proc.returncode != 0 or not proc.stdout:
            if "No module named ruff" in proc.stderr:
                return source
            raise GenError(f"ruff failed on the generated code:\n{proc.stderr}")
        source = proc.stdout
    return source


def render(generator: Generator | None = None, root: Path = ROOT) -> dict[Path, str]:
    """The generated files, by path relative to the repository root."""
    gen = generator or Generator(root=root)
    package_dir = Path(*gen.output_package.split("."))
    client = format_source(gen.build(), ROOT / package_dir / "client.py")
    exported = sorted(info.sync_name for info in gen.mirrored.values())
    init = (
        "# GENERATED by tools/gen_sync.py. DO NOT EDIT.\n"
        '"""The blocking client, generated from the async one (see ``docs/sync.md``)."""\n\n'
        f"from {gen.output_package}.client import {', '.join(exported)}\n\n"
        f"__all__ = [{', '.join(repr(n) for n in exported)}]\n"
    )
    init = format_source(init, ROOT / package_dir / "__init__.py")
    return {package_dir / "client.py": client, package_dir / "__init__.py": init}


def _same_code(a: str, b: str) -> bool:
    """Equal up to formatting: same header comment and the same AST (docstrings included).

    Import statements are compared as a sorted set and the rest in order, so output sorted by ruff and
    output written where ruff is not installed (the imports then stay in generation order) compare equal.
    """

    def header(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith("#")][:2]

    def shape(text: str) -> tuple[list[str], list[str]]:
        body = ast.parse(text).body
        imports = sorted(
            ast.dump(ast.ImportFrom(n.module, sorted(n.names, key=lambda a: a.name), n.level))
            if isinstance(n, ast.ImportFrom)
            else ast.dump(n)
            for n in body
            if isinstance(n, (ast.Import, ast.ImportFrom))
        )
        rest = [ast.dump(n) for n in body if not isinstance(n, (ast.Import, ast.ImportFrom))]
        return imports, rest

    try:
        return header(a) == header(b) and shape(a) == shape(b)
    except SyntaxError:
        return False


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    """Write the sync package, or with ``--check`` report (diff, exit 1) when the committed one is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail with a diff if the committed files are stale")
    options = parser.parse_args(argv)
    try:
        files = render(root=root)
    except GenError as exc:
        print(f"gen_sync: error: {exc}", file=sys.stderr)
        return 2
    stale = False
    for rel, text in files.items():
        path = root / rel
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == text:
            continue
        if options.check:
            if _same_code(current, text):
                continue  # only formatting differs (another ruff version): not stale
            stale = True
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    fromfile=f"{rel} (committed)",
                    tofile=f"{rel} (generated)",
                )
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"gen_sync: wrote {rel}")
    if stale:
        print("\ngen_sync: the sync client is stale; run `python tools/gen_sync.py` and commit.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
