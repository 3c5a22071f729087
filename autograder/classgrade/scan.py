"""Static (AST) scan of the code a student wrote, for tampering and for copying the reference.

Only student-editable cells are scanned (solution cells and cells the student added); locked
cells are restored from the instructor's source by nbgrader and by the out-of-kernel probe.

A finding is ``Finding(kind, part, reason)``. ``kind`` is

* ``tampering``: the code tries to change how it is graded or to escape: rebinding attributes
  of numpy / numpy.testing / builtins / autograder / dlcourse, rebinding a name the test cells
  use (``check_optimizer = ...``, ``def isinstance``), importing ``autograder``, frame or
  ``gc`` introspection, ``sys.exit`` / ``os._exit`` / ``os.kill``, ``subprocess`` / ``ctypes`` /
  ``socket`` / ``os.system``, ``open()`` of a path outside the submission or of grader files
  (``gradebook.db``, ``source/``);
* ``copying``: the reference is used instead of written: importing ``dlcourse.optim``'s
  optimizers, subclassing or aliasing them, or a class whose normalized token stream is a
  near-verbatim copy of the reference class;
* ``suspicious``: worth a look, no effect on the score (dynamic ``exec``/``__import__``, ``open()``
  of a computed path, code that does not parse).

``part`` is the class the finding sits in (its test cells lose their points), or ``None`` for
module-level code, which can affect every test.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import functools
import io
import keyword
import re
import tokenize
from dataclasses import dataclass

PROTECTED_MODULES = ("numpy", "builtins", "autograder", "dlcourse", "math", "nbgrader", "unittest",
                     "pytest", "sys", "os", "importlib", "IPython")
DANGEROUS_CALLS = {
    "sys.exit": "calls sys.exit", "os._exit": "calls os._exit", "os.kill": "calls os.kill",
    "os.killpg": "calls os.killpg", "os.abort": "calls os.abort", "exit": "calls exit()",
    "quit": "calls quit()", "os.system": "runs a shell (os.system)", "os.popen": "runs a shell (os.popen)",
    "os.fork": "forks", "os.remove": "deletes files", "os.unlink": "deletes files",
    "os.rename": "renames files", "os.replace": "replaces files", "shutil.rmtree": "deletes folders",
    "shutil.copy": "copies files", "shutil.move": "moves files", "os.chdir": "changes directory",
    "signal.signal": "installs signal handlers", "signal.alarm": "sets alarms",
    "sys._getframe": "inspects the caller's frames", "inspect.currentframe": "inspects frames",
    "inspect.stack": "inspects frames", "gc.get_objects": "walks the garbage collector",
    "gc.get_referrers": "walks the garbage collector", "setattr": None, "delattr": None,
    "globals": None, "vars": None,
}
DANGEROUS_MODULES = {"subprocess": "imports subprocess", "ctypes": "imports ctypes",
                     "socket": "imports socket", "sqlite3": "imports sqlite3 (the gradebook is SQLite)",
                     "multiprocessing": "imports multiprocessing", "pty": "imports pty",
                     "autograder": "imports the grading package", "nbgrader": "imports nbgrader",
                     "gc": "imports gc", "inspect": "imports inspect", "signal": "imports signal",
                     "builtins": "imports builtins", "urllib": "imports urllib", "requests": "imports requests"}
#: importing these is only worth a look; their dangerous calls are tampering (DANGEROUS_CALLS)
HARMLESS_ALONE = {"gc", "inspect", "signal", "multiprocessing", "urllib", "requests"}
GRADER_STRINGS = re.compile(r"gradebook|\.db\b|(^|/)source(/|$)|solutions?/|hidden|autograded|submitted/"
                            r"|/etc/|/root|/proc/|\.\./")


@dataclass(frozen=True)
class Finding:
    kind: str            # tampering | copying | suspicious
    part: str | None     # class name, or None for module level
    reason: str
    cell: str = ""

    def text(self) -> str:
        where = f" in {self.part}" if self.part else ""
        cell = f" (cell {self.cell})" if self.cell else ""
        return f"{self.kind}{where}: {self.reason}{cell}"


def strip_magics(source: str) -> str:
    """IPython magics and shell escapes become ``pass`` so the cell parses as Python."""
    lines = []
    for line in source.splitlines():
        s = line.lstrip()
        if s.startswith(("%", "!")):
            lines.append(line[: len(line) - len(s)] + "pass")
        else:
            lines.append(line)
    return "\n".join(lines)


def dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    if isinstance(node, ast.Call):           # e.g. __import__('numpy').allclose
        return None
    return None


#: the course library's modules that hold reference implementations (an assignment's checks
#: module may name its own in REFERENCE_MODULES)
REFERENCE_MODULES = ("dlcourse.optim", "dlcourse.ewma", "dlcourse.schedules", "dlcourse.graph",
                     "dlcourse.window", "dlcourse.gradcheck", "dlcourse.init", "dlcourse.layers")


def _in_reference(full: str, modules=REFERENCE_MODULES) -> bool:
    return any(full == m or full.startswith(m + ".") for m in modules)


class _Scanner(ast.NodeVisitor):
    def __init__(self, cell: str, targets: set[str], test_names: set[str], reference_names: set[str],
                 aliases: dict[str, str]):
        self.cell = cell
        self.targets = targets
        self.test_names = test_names
        self.reference_names = reference_names
        self.aliases = aliases            # local name -> full dotted module/object path
        self.findings: list[Finding] = []
        self.part: str | None = None
        self.depth = 0                    # function nesting (module-level rebinding matters most)

    def add(self, kind: str, reason: str, part: str | None = None) -> None:
        self.findings.append(Finding(kind, part or self.part, reason, self.cell))

    def resolve(self, name: str | None) -> str | None:
        if not name:
            return None
        head, _, rest = name.partition(".")
        if head in self.aliases:
            full = self.aliases[head]
            return f"{full}.{rest}" if rest else full
        return name

    # -- imports -------------------------------------------------------------------------
    def _import(self, module: str, asname: str, imported: str | None) -> None:
        full = f"{module}.{imported}" if imported else module
        self.aliases[asname] = full
        top = module.split(".")[0]
        if top in ("autograder", "nbgrader"):
            self.add("tampering", f"imports {full} (grading internals) in a solution")
        elif _in_reference(full) or (not imported and _in_reference(f"{full}.x")) or \
                (imported and _in_reference(f"{module}.{imported}.x")):
            last = full.split(".")[-1]
            if last == "Optimizer":
                pass                      # the notebook's own base class has the same name
            elif imported and last in self.reference_names:
                self.add("copying", f"imports the reference {full}", part=self.part or last)
            else:
                self.add("copying", f"imports the course's reference code {full}")
        elif top in DANGEROUS_MODULES:
            self.add("suspicious" if top in HARMLESS_ALONE else "tampering", DANGEROUS_MODULES[top])
        if asname in self.test_names and self.depth == 0 and full not in self.test_imports_ok():
            self.add("tampering", f"rebinds {asname!r}, which the tests use")

    allowed: set = frozenset()

    def test_imports_ok(self) -> set[str]:
        return {"numpy", "numpy.testing", "math"} | set(self.allowed)

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            self._import(a.name, a.asname or a.name.split(".")[0], None)
            if a.asname is None:
                self.aliases[a.name.split(".")[0]] = a.name.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.add("suspicious", f"relative import from {module or '.'}")
        for a in node.names:
            self._import(module, a.asname or a.name, a.name)

    # -- bindings ------------------------------------------------------------------------
    def _target(self, t: ast.AST, how: str) -> None:
        if isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                self._target(e, how)
            return
        if isinstance(t, ast.Starred):
            self._target(t.value, how)
            return
        if isinstance(t, ast.Attribute):
            full = self.resolve(dotted(t))
            if full and full.split(".")[0] in PROTECTED_MODULES:
                self.add("tampering", f"{how} {full}")
            elif full and full.split(".")[0] in ("__builtins__",):
                self.add("tampering", f"{how} {full}")
            return
        if isinstance(t, ast.Subscript):
            base = dotted(t.value)
            if base in ("__builtins__", "sys.modules", "builtins.__dict__") or (
                    isinstance(t.value, ast.Call) and dotted(t.value.func) in ("globals", "vars", "locals")):
                self.add("tampering", f"{how} {base or 'globals()'}[...]")
            return
        if isinstance(t, ast.Name):
            if self.depth == 0 and self.part is None:
                if t.id in self.test_names and t.id not in self.targets:
                    self.add("tampering", f"rebinds {t.id!r}, which the tests use")
                elif t.id in BUILTIN_NAMES and not t.id.startswith("_") and t.id in self.test_names:
                    self.add("tampering", f"rebinds the builtin {t.id!r}")
                if t.id in self.targets:
                    self._alias_check(t.id)

    def _alias_check(self, name: str) -> None:
        pass

    def visit_Assign(self, node: ast.Assign) -> None:
        for t in node.targets:
            self._target(t, "assigns to")
        if self.depth == 0 and self.part is None:
            for t in node.targets:
                if isinstance(t, ast.Name) and t.id in self.targets:
                    src = self.resolve(dotted(node.value)) or ""
                    if src.startswith("dlcourse"):
                        self.add("copying", f"{t.id} = {src} (the reference)", part=t.id)
        if self.part is not None:
            src = self.resolve(dotted(node.value)) or ""
            if _in_reference(src) and src.split(".")[-1] != "Optimizer" or \
                    src.split(".")[0] in self.reference_names and src.split(".")[0] != "Optimizer" \
                    and self.aliases.get(src.split(".")[0], "").startswith("dlcourse"):
                self.add("copying", f"uses the reference {src}")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._target(node.target, "changes")
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._target(node.target, "assigns to")
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            self._target(t, "deletes")
        self.generic_visit(node)

    def visit_FunctionDef(self, node) -> None:
        if self.depth == 0 and self.part is None and node.name in self.test_names \
                and node.name not in self.targets:
            self.add("tampering", f"redefines {node.name!r}, which the tests use")
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        outer = self.part
        if self.part is None and self.depth == 0:
            self.part = node.name
            if node.name in self.test_names and node.name not in self.targets:
                self.add("tampering", f"redefines {node.name!r}, which the tests use")
        for base in node.bases:
            full = self.resolve(dotted(base)) or ""
            last = full.split(".")[-1]
            if full.startswith("dlcourse") and last != "Optimizer":
                self.add("copying", f"subclasses the reference {full}", part=node.name)
            elif full.startswith("autograder"):
                self.add("tampering", f"subclasses {full}")
        self.depth += 0
        self.generic_visit(node)
        self.part = outer

    # -- calls and names -----------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        name = dotted(node.func)
        full = self.resolve(name) if name else None
        if full in DANGEROUS_CALLS:
            reason = DANGEROUS_CALLS[full]
            if full in ("setattr", "delattr") and node.args:
                obj = self.resolve(dotted(node.args[0])) or ""
                if obj.split(".")[0] in PROTECTED_MODULES + ("__builtins__",):
                    self.add("tampering", f"{full}() on {obj}")
            elif full in ("globals", "vars"):
                pass
            elif reason:
                self.add("tampering", reason)
        elif full and full.split(".")[0] in ("subprocess", "ctypes", "socket", "pty"):
            self.add("tampering", f"calls {full}")
        elif full and (full.startswith("os.exec") or full.startswith("os.spawn") or full.startswith("os.posix_spawn")):
            self.add("tampering", f"calls {full}")
        elif full in ("open", "io.open", "builtins.open", "os.open", "numpy.load", "numpy.loadtxt",
                      "numpy.fromfile", "numpy.save", "numpy.savetxt", "pathlib.Path", "Path"):
            if node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    p = arg.value
                    if p.startswith(("/", "~")) or ".." in p.split("/") or GRADER_STRINGS.search(p):
                        self.add("tampering", f"{name}() of {p!r}, outside the submission")
                else:
                    self.add("suspicious", f"{name}() of a computed path")
        elif full in ("exec", "eval", "compile", "__import__", "importlib.import_module", "getattr"):
            if full == "getattr":
                if node.args:
                    obj = self.resolve(dotted(node.args[0])) or ""
                    if obj.split(".")[0] in ("__builtins__", "builtins"):
                        self.add("tampering", f"getattr() on {obj}")
            else:
                lit = node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                text = node.args[0].value if lit else ""
                if lit and re.search(r"autograder|nbgrader|dlcourse\.optim|sqlite3|subprocess|ctypes", text):
                    self.add("tampering", f"{full}() of {text[:40]!r}")
                else:
                    self.add("suspicious", f"dynamic code: {full}()")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and ("gradebook" in node.value or "source_cell" in node.value):
            self.add("tampering", f"mentions grader files ({node.value[:40]!r})")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        full = self.resolve(dotted(node)) or ""
        parts = full.split(".")
        if len(parts) >= 3 and _in_reference(".".join(parts[:2])) \
                and parts[2] in self.reference_names and parts[2] != "Optimizer":
            self.add("copying", f"uses the reference {'.'.join(parts[:3])}", part=self.part or parts[2])
        if parts[-1] in ("__globals__", "__builtins__", "__code__", "f_globals", "f_back", "__subclasses__") \
                and isinstance(node.ctx, ast.Load):
            self.add("tampering", f"reaches into interpreter internals ({parts[-1]})")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "__builtins__":
            self.add("tampering", "uses __builtins__")


# -- copy detection ----------------------------------------------------------------------


BUILTIN_NAMES = frozenset(dir(builtins))


def _tokens(source: str) -> list[str]:
    """Token strings without comments, docstrings, blank lines and indentation."""
    out = []
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source.split()
    prev = None
    for tok in toks:
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                        tokenize.DEDENT, tokenize.ENDMARKER):
            prev = tok.type if tok.type != tokenize.COMMENT else prev
            continue
        if tok.type == tokenize.STRING and prev in (tokenize.INDENT, tokenize.NEWLINE, None, tokenize.OP):
            if prev != tokenize.OP:
                prev = tok.type
                continue
        out.append(tok.string)
        prev = tok.type
    return out


def _alpha(tokens: list[str]) -> list[str]:
    """Rename identifiers to v0, v1, ... by first appearance (defeats renaming variables)."""
    names: dict[str, str] = {}
    out = []
    for t in tokens:
        if t.isidentifier() and not keyword.iskeyword(t) and t not in BUILTIN_NAMES and t not in ("np", "self"):
            out.append(names.setdefault(t, f"v{len(names)}"))
        else:
            out.append(t)
    return out


def _body_of(cls: ast.ClassDef, lines: list[str]) -> str:
    """Source of a class's methods only (docstrings dropped by _tokens), cut from ``lines``
    (the source split once: ``ast.get_source_segment`` splits the whole source per call,
    which made a class with many methods quadratic)."""
    parts = ["".join(lines[n.lineno - 1:n.end_lineno]) for n in cls.body
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return "\n".join(parts)


def class_sources(source: str) -> dict[str, str]:
    """Top-level class name -> its methods' source, for a module or cell."""
    try:
        tree = ast.parse(strip_magics(source))
    except SyntaxError:
        return {}
    lines = strip_magics(source).splitlines(True)
    return {n.name: _body_of(n, lines) for n in tree.body if isinstance(n, ast.ClassDef)}


@functools.lru_cache(maxsize=256)
def _normalized(source: str) -> tuple[str, ...]:
    """``source``'s tokens alpha-renamed (remembered for the reference classes, which every
    student is compared with; a student's own code is never kept)."""
    return tuple(_alpha(_tokens(source)))


def similarity(a: str, b: str) -> float:
    """Similarity in [0, 1] of a student's fragment ``a`` and the reference's ``b`` after
    normalization and alpha-renaming."""
    ta, tb = tuple(_alpha(_tokens(a))), _normalized(b)
    if not ta or not tb:
        return 0.0
    # SequenceMatcher is O(len(ta) * len(tb)); its ratio 2M/(n+m) is at most 2*min/(n+m), so
    # fragments of very different lengths are told apart without it (a huge class never costs
    # more than its own length)
    bound = 2 * min(len(ta), len(tb)) / (len(ta) + len(tb))
    if bound < COPY_THRESHOLD:
        return bound
    # the same for the tokens both share, counted regardless of order (linear time)
    matcher = difflib.SequenceMatcher(None, ta, tb, autojunk=False)
    bound = matcher.quick_ratio()
    if bound < COPY_THRESHOLD:
        return bound
    return matcher.ratio()


COPY_THRESHOLD = 0.92
MIN_TOKENS = 30


def copy_findings(student: dict[str, str], reference: dict[str, str], exempt: set[str],
                  cell_of: dict[str, str]) -> list[Finding]:
    out = []
    for name, body in student.items():
        ref = reference.get(name)
        if not ref or name in exempt or len(_tokens(body)) < MIN_TOKENS:
            continue
        s = similarity(body, ref)
        if s >= COPY_THRESHOLD:
            out.append(Finding("copying", name, f"near-verbatim copy of the reference {name} "
                               f"(token similarity {s:.2f})", cell_of.get(name, "")))
    return out


def _nodes(sources: list[str]):
    """Every AST node of the sources that parse (the instructor's cells; magics stripped)."""
    for src in sources:
        try:
            tree = ast.parse(strip_magics(src))
        except SyntaxError:
            continue
        yield from ast.walk(tree)


def names_used(sources: list[str]) -> set[str]:
    """Names the (instructor's) test cells load."""
    names: set[str] = set()
    for n in _nodes(sources):
        if isinstance(n, ast.Name):
            names.add(n.id)
    return names


def scan_cells(cells: list[tuple[str, str]], targets: set[str], test_names: set[str],
               reference_names: set[str], reference_classes: dict[str, str] | None = None,
               exempt_copy: set[str] = frozenset(), allowed_imports: set[str] = frozenset(),
               aliases: dict[str, str] | None = None) -> list[Finding]:
    """Findings for the student-editable ``cells`` [(cell id, source)], in cell order.

    ``aliases``: names the instructor's cells import (``np`` -> ``numpy``), known to every cell."""
    aliases = {"np": "numpy", "npt": "numpy.testing", **dict(aliases or {})}
    findings: list[Finding] = []
    student_classes: dict[str, str] = {}
    cell_of: dict[str, str] = {}
    for cid, source in cells:
        try:
            tree = ast.parse(strip_magics(source))
        except SyntaxError as exc:
            findings.append(Finding("suspicious", None, f"does not parse: {exc.msg} (line {exc.lineno})", cid))
            continue
        sc = _Scanner(cid, targets, test_names, reference_names, aliases)
        sc.allowed = set(allowed_imports)
        sc.visit(tree)
        findings.extend(sc.findings)
        for name, body in class_sources(source).items():
            student_classes[name] = body
            cell_of[name] = cid
    if reference_classes:
        findings.extend(copy_findings(student_classes, reference_classes, set(exempt_copy), cell_of))
    seen, unique = set(), []
    for f in findings:
        key = (f.kind, f.part, f.reason)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def imported_names(sources: list[str]) -> set[str]:
    """Full dotted names the instructor's cells import (students may import them too)."""
    out: set[str] = set()
    for n in _nodes(sources):
        if isinstance(n, ast.Import):
            out.update(a.name for a in n.names)
        elif isinstance(n, ast.ImportFrom) and n.module:
            out.update(f"{n.module}.{a.name}" for a in n.names)
    return out


def import_aliases(sources: list[str]) -> dict[str, str]:
    """Local name -> dotted origin for the imports in the instructor's cells."""
    out: dict[str, str] = {}
    for src in sources:
        try:
            tree = ast.parse(strip_magics(src))
        except SyntaxError:
            continue
        for n in ast.walk(tree):
            if isinstance(n, ast.Import):
                for a in n.names:
                    out[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(n, ast.ImportFrom) and n.module:
                for a in n.names:
                    out[a.asname or a.name] = f"{n.module}.{a.name}"
    return out


# ---------------------------------------------------------------------------- the stage
_KINDS = {"tampering": "TAMPERING", "copying": "COPYING", "suspicious": "SUSPICIOUS"}


class ScanContext:
    """What the scan compares a submission with, computed once per worker from the course."""

    def __init__(self, spec, checks_module):
        import inspect
        self.targets = set(spec.targets) | set(spec.names.values())      # what students define
        self.part_of = {t: p.grade_id for p in spec.parts for t in p.targets}
        self.part_of.update({spec.names.get(t, t): p.grade_id for p in spec.parts for t in p.targets})
        # an answer cell's module-level finding concerns the parts that cell answers
        self.parts_of_cell: dict[str, list[str]] = {}
        for row in getattr(checks_module, "PARTS", ()):
            self.parts_of_cell.setdefault(row[1], []).append(row[0])
        self.test_names = names_used(list(spec.test_sources.values()))
        self.reference_classes: dict[str, str] = {}
        for t in spec.targets:
            try:
                ref = checks_module.reference(t)
                if inspect.isclass(ref):
                    self.reference_classes.update({k: v for k, v in class_sources(inspect.getsource(ref)).items()
                                                   if k == t})
            except Exception:  # noqa: BLE001 - no source for the reference: no copy detection for it
                pass
        instructor = [src for src in spec.locked.values()] + list(spec.test_sources.values())
        self.allowed_imports = imported_names(instructor)
        self.aliases = import_aliases(instructor)
        self.exempt: set[str] = set()
        self.solution_classes = dict(getattr(spec, "solution_classes", {}) or {})
        for name, body in self.solution_classes.items():
            ref = self.reference_classes.get(name)
            if ref and similarity(body, ref) >= COPY_THRESHOLD:
                self.exempt.add(name)     # the model solution itself reads like the reference


#: more student code than this is not scanned (an honest notebook has a few tens of kB): the
#: scan is linear, but parsing megabytes of code would still cost the grader seconds and memory
MAX_SCAN_BYTES = 1_000_000


def scan_submission(sub, context: ScanContext) -> list:
    """The scan's findings for a :class:`~.read.Submission`, as flags in the shared vocabulary."""
    from .flags import Flag, Kind
    size = sum(len(src) for _, src in sub.editable)
    if size > MAX_SCAN_BYTES:
        return [Flag(Kind.SUSPICIOUS, f"{size // 1000} kB of code in the answer cells: too much to scan; read it")]
    found = scan_cells(sub.editable, context.targets, context.test_names, set(context.targets),
                       context.reference_classes, exempt_copy=context.exempt,
                       allowed_imports=context.allowed_imports, aliases=context.aliases)
    flags = []
    for f in found:
        if f.kind == "suspicious" and f.reason.startswith("does not parse"):
            kind = Kind.SYNTAX_ERROR
        else:
            kind = Kind[_KINDS[f.kind]]
        where = f" (cell {f.cell})" if f.cell else ""
        text = f"{f.part + ': ' if f.part else ''}{f.reason}{where}"
        if f.part:
            flags.append(Flag(kind, text, part=context.part_of.get(f.part)))
        elif kind is Kind.COPYING and f.cell in context.parts_of_cell:
            flags.extend(Flag(kind, text, part=gid) for gid in dict.fromkeys(context.parts_of_cell[f.cell]))
        else:
            flags.append(Flag(kind, text))
    return flags
