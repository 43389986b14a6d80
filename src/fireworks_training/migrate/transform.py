"""The libcst transformer: finds legacy promote calls in a module and rewrites them.

``hot_load_deployment_id=`` stays where it is, with a ``# TODO(fireworks-training)``
comment: on its own line just above the argument when the call spans lines, else above the
statement holding the call. A call whose lines carry ``# fireworks-training: ignore`` is
neither rewritten nor reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import cast

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from .calls import LegacyCall, Refusal, classify
from .imports import official_module, plan_import
from .layout import TODO_HOT_LOAD, comment_lines
from .result import Change, ImportChange, KeptImport, MigrationResult, UnsafeCall
from .rewrite import Context, rewrite

__all__ = ["IGNORE_MARKER", "migrate_module", "migrate_source"]

IGNORE_MARKER = "fireworks-training: ignore"
# Callables that take a coroutine object: a promote call passed to one is an async call.
_COROUTINE_TAKERS = frozenset(
    {"run", "run_until_complete", "create_task", "ensure_future", "gather", "wait_for", "shield"}
)
_HOT_LOAD = "hot_load_deployment_id"
_HOT_LOAD_NOTE = "hot_load_deployment_id kept, with a TODO: it is deprecated too"


def migrate_source(code: str) -> MigrationResult:
    """Rewrite every legacy promote call and official import in ``code``.

    Raises ``libcst.ParserSyntaxError`` when ``code`` does not parse.
    """
    return migrate_module(cst.parse_module(code))[1]


def migrate_module(module: cst.Module) -> tuple[cst.Module, MigrationResult]:
    """``module`` migrated, with the report (its ``code`` is the new module's source)."""
    wrapper = MetadataWrapper(module)
    ignored = _IgnoredLines()
    wrapper.visit(ignored)
    rewriter = PromoteCallRewriter(frozenset(ignored.lines))
    new_module = wrapper.visit(rewriter)
    # The calls returned by the rewriter are the very nodes of the new tree.
    positions = MetadataWrapper(new_module, unsafe_skip_copy=True).resolve(PositionProvider)

    def new_line(node: cst.Call, old: int) -> int:
        where = positions.get(node)
        return old if where is None else where.start.line

    def moved(node: cst.CSTNode, old: int) -> int:
        where = positions.get(node)
        return old if where is None else where.start.line

    changes = [replace(c, new_line=new_line(node, c.line)) for node, c in rewriter.changes]
    unsafe = [replace(u, new_line=new_line(node, u.line)) for node, u in rewriter.unsafe]
    imports = [replace(i, new_line=moved(node, i.line)) for node, i in rewriter.imports]
    kept = [replace(k, new_line=moved(node, k.line)) for node, k in rewriter.kept_imports]
    return new_module, MigrationResult(new_module.code, changes, unsafe, imports, kept)


class _IgnoredLines(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self) -> None:
        super().__init__()
        self.lines: set[int] = set()

    def visit_Comment(self, node: cst.Comment) -> None:  # noqa: N802
        if IGNORE_MARKER in node.value:
            self.lines.add(self.get_metadata(PositionProvider, node).start.line)


class PromoteCallRewriter(cst.CSTTransformer):
    """Rewrites legacy calls; collects ``changes`` and ``unsafe`` calls with their new nodes."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, ignored_lines: frozenset[int] = frozenset()) -> None:
        super().__init__()
        self.changes: list[tuple[cst.Call, Change]] = []
        self.unsafe: list[tuple[cst.Call, UnsafeCall]] = []
        self._ignored_lines = ignored_lines
        self._awaited: set[int] = set()
        self._handed_to_asyncio: set[int] = set()
        self._async_functions: list[bool] = []
        self._statement_comments: list[list[str]] = []
        self.imports: list[tuple[cst.CSTNode, ImportChange]] = []
        self.kept_imports: list[tuple[cst.CSTNode, KeptImport]] = []

    # Context: statements (for TODO lines), async functions, awaits -----------------------

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.SimpleStatementLine | cst.BaseCompoundStatement):
            self._statement_comments.append([])
        return super().on_visit(node)

    def on_leave(
        self, original_node: cst.CSTNodeT, updated_node: cst.CSTNodeT
    ) -> cst.CSTNodeT | cst.RemovalSentinel | cst.FlattenSentinel[cst.CSTNodeT]:
        left = super().on_leave(original_node, updated_node)
        if not isinstance(original_node, cst.SimpleStatementLine | cst.BaseCompoundStatement):
            return left
        comments = self._statement_comments.pop()
        if comments and isinstance(left, cst.SimpleStatementLine | cst.BaseCompoundStatement):
            lines = [cst.EmptyLine(comment=cst.Comment(text)) for text in comments]
            left = cast(
                cst.CSTNodeT, left.with_changes(leading_lines=[*left.leading_lines, *lines])
            )
        if isinstance(original_node, cst.SimpleStatementLine) and isinstance(
            left, cst.SimpleStatementLine
        ):
            return cast(
                cst.FlattenSentinel[cst.CSTNodeT], self._rewrite_imports(original_node, left)
            )
        return left

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:  # noqa: N802
        self._async_functions.append(node.asynchronous is not None)

    def leave_FunctionDef(  # noqa: N802
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        self._async_functions.pop()
        return updated_node

    def visit_Await(self, node: cst.Await) -> None:  # noqa: N802
        if isinstance(node.expression, cst.Call):
            self._awaited.add(id(node.expression))

    def visit_Call(self, node: cst.Call) -> None:  # noqa: N802
        func = node.func
        called = func.attr.value if isinstance(func, cst.Attribute) else None
        called = func.value if isinstance(func, cst.Name) else called
        if called in _COROUTINE_TAKERS:
            self._handed_to_asyncio.update(id(arg.value) for arg in node.args)

    # Imports from the official SDK ---------------------------------------------------------

    def leave_Import(  # noqa: N802
        self, original_node: cst.Import, updated_node: cst.Import
    ) -> cst.Import:
        for alias in updated_node.names:
            dotted = get_full_name_for_node(alias.name)
            if official_module(dotted) is not None:
                line = self.get_metadata(PositionProvider, original_node).start.line
                reason = (
                    "a module import: its attribute uses are not rewritten; "
                    "import the names with `from fireworks_training import ...`"
                )
                kept = KeptImport(line, dotted or "", (), reason)
                self.kept_imports.append((updated_node, kept))
        return updated_node

    def _rewrite_imports(
        self, original: cst.SimpleStatementLine, line: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.FlattenSentinel[cst.SimpleStatementLine]:
        """The line with its official ``from`` imports rewritten (split when mixed)."""
        where = self.get_metadata(PositionProvider, original).start.line
        if where in self._ignored_lines:
            return line
        body: list[cst.BaseSmallStatement] = []
        changed = False
        for statement in line.body:
            plan = plan_import(statement) if isinstance(statement, cst.ImportFrom) else None
            if plan is None:
                self._report_star(statement, where)
                body.append(statement)
                continue
            assert isinstance(statement, cst.ImportFrom)  # a plan is only made for one
            self._report_import(statement, plan.statements, plan.moved, plan.kept, where)
            changed = changed or bool(plan.moved)
            body.extend(plan.statements)
        if not changed:
            return line
        if len(line.body) == 1 and len(body) > 1:
            first = line.with_changes(body=[body[0]])
            rest = [cst.SimpleStatementLine(body=[statement]) for statement in body[1:]]
            return cst.FlattenSentinel([first, *rest])
        separator = cst.Semicolon(whitespace_after=cst.SimpleWhitespace(" "))
        joined = [s.with_changes(semicolon=separator) for s in body[:-1]] + body[-1:]
        return line.with_changes(body=joined)

    def _report_import(
        self,
        statement: cst.ImportFrom,
        new: list[cst.ImportFrom],
        moved: list[tuple[str, str]],
        kept: list[str],
        line: int,
    ) -> None:
        module = get_full_name_for_node(statement.module) if statement.module else None
        if moved:
            change = ImportChange(
                line,
                module or "",
                tuple(name for _, name in moved),
                tuple(target for target, _ in moved),
            )
            self.imports.append((new[0], change))
        if kept:
            reason = "fireworks_training does not provide it; left on the official import"
            self.kept_imports.append((new[-1], KeptImport(line, module or "", tuple(kept), reason)))

    def _report_star(self, statement: cst.BaseSmallStatement, line: int) -> None:
        if not isinstance(statement, cst.ImportFrom) or statement.module is None:
            return
        module = get_full_name_for_node(statement.module)
        if isinstance(statement.names, cst.ImportStar) and official_module(module) is not None:
            reason = "a star import: name what you use, then run the codemod again"
            self.kept_imports.append((statement, KeptImport(line, module or "", ("*",), reason)))

    # The rewrite ---------------------------------------------------------------------

    def leave_Call(  # noqa: N802
        self, original_node: cst.Call, updated_node: cst.Call
    ) -> cst.Call:
        found = classify(updated_node)
        if found is None:
            return updated_node
        where = self.get_metadata(PositionProvider, original_node)
        if self._is_ignored(where):
            return updated_node
        if isinstance(found, Refusal):
            unsafe = UnsafeCall(where.start.line, found.method, found.reason)
            self.unsafe.append((updated_node, unsafe))
            return updated_node
        return self._rewrite(original_node, updated_node, found, where.start.line)

    def _rewrite(
        self, original: cst.Call, call: cst.Call, legacy: LegacyCall, line: int
    ) -> cst.Call:
        context = Context(
            awaited=id(original) in self._awaited,
            async_code=bool(self._async_functions and self._async_functions[-1])
            or id(original) in self._handed_to_asyncio,
        )
        done = rewrite(call, legacy, context)
        if isinstance(done, Refusal):
            self.unsafe.append((call, UnsafeCall(line, done.method, done.reason)))
            return call
        new_call, notes = done.call, done.notes
        if any(_is_hot_load(arg) for arg in new_call.args):
            new_call = self._mark_hot_load(new_call)
            notes = (*notes, _HOT_LOAD_NOTE)
        self.changes.append((new_call, Change(line, legacy.method, done.name, notes)))
        return new_call

    def _is_ignored(self, where: CodeRange) -> bool:
        return any(where.start.line <= line <= where.end.line for line in self._ignored_lines)

    def _mark_hot_load(self, call: cst.Call) -> cst.Call:
        """Put the TODO above the argument when it starts a line, else above the statement."""
        index = next(i for i, arg in enumerate(call.args) if _is_hot_load(arg))
        before = _whitespace_before(call, index)
        if not isinstance(before, cst.ParenthesizedWhitespace):
            pending = self._statement_comments[-1] if self._statement_comments else None
            if pending is not None and not pending:
                pending.extend(TODO_HOT_LOAD)
            return call
        marked = before.with_changes(
            empty_lines=[*before.empty_lines, *comment_lines(before, TODO_HOT_LOAD)]
        )
        if index == 0:
            return call.with_changes(whitespace_before_args=marked)
        return call.with_changes(args=_with_separator(call.args, index - 1, marked))


def _is_hot_load(arg: cst.Arg) -> bool:
    return arg.keyword is not None and arg.keyword.value == _HOT_LOAD


def _whitespace_before(call: cst.Call, index: int) -> cst.BaseParenthesizableWhitespace:
    if index == 0:
        return call.whitespace_before_args
    comma = call.args[index - 1].comma
    return comma.whitespace_after if isinstance(comma, cst.Comma) else cst.SimpleWhitespace("")


def _with_separator(
    args: Sequence[cst.Arg], index: int, whitespace: cst.BaseParenthesizableWhitespace
) -> list[cst.Arg]:
    arg = args[index]
    if not isinstance(arg.comma, cst.Comma):
        raise ValueError("an argument that is followed by another always has a comma")
    changed = arg.with_changes(comma=arg.comma.with_changes(whitespace_after=whitespace))
    return [*args[:index], changed, *args[index + 1 :]]
