"""Editing argument lists without losing their layout or comments.

In libcst the whitespace before an argument lives in the previous argument's comma (or, for
the first, in the call's ``whitespace_before_args``); a comment at the end of a line is the
``first_line`` of that whitespace, a comment on its own line one of its ``empty_lines``.
Dropping an argument therefore merges two separators into one and keeps every comment.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

__all__ = ["as_keyword", "drop_arg", "merge_whitespace", "comment_lines", "TODO_HOT_LOAD"]

TODO_HOT_LOAD = (
    "# TODO(fireworks-training): remove hot_load_deployment_id unless the deployment predates",
    "# stored bucket URLs (cookbook >= 0.3.0 resolves it; the argument goes away in 1.0.0).",
)
_NO_SPACE = cst.SimpleWhitespace("")

Whitespace = cst.BaseParenthesizableWhitespace


def as_keyword(arg: cst.Arg, keyword: str) -> cst.Arg:
    """``arg`` passed as ``keyword=value``, keeping an existing ``=`` and its spacing."""
    equal = arg.equal if isinstance(arg.equal, cst.AssignEqual) else None
    equal = equal or cst.AssignEqual(whitespace_before=_NO_SPACE, whitespace_after=_NO_SPACE)
    return arg.with_changes(keyword=cst.Name(keyword), equal=equal)


def drop_arg(args: Sequence[cst.Arg], index: int) -> list[cst.Arg]:
    """``args`` without ``args[index]`` (``index >= 1``), its separators merged."""
    gone, before = args[index], args[index - 1]
    if not isinstance(before.comma, cst.Comma):
        raise ValueError("an argument that is followed by another always has a comma")
    last = index == len(args) - 1
    if not last or isinstance(gone.comma, cst.Comma):
        after = gone.comma.whitespace_after if isinstance(gone.comma, cst.Comma) else _NO_SPACE
        separator = merge_whitespace(before.comma.whitespace_after, gone.whitespace_after_arg)
        comma = before.comma.with_changes(whitespace_after=merge_whitespace(separator, after))
        kept = before.with_changes(comma=comma)
    else:  # the last argument, no trailing comma: ``before`` becomes last
        tail = merge_whitespace(before.whitespace_after_arg, before.comma.whitespace_after)
        tail = merge_whitespace(tail, gone.whitespace_after_arg)
        kept = before.with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=tail)
    return [*args[: index - 1], kept, *args[index + 1 :]]


def merge_whitespace(first: Whitespace, second: Whitespace) -> Whitespace:
    """One separator standing for ``first`` then ``second``, with the comments of both.

    Line breaks win over plain spaces unless the break carried nothing but indentation.
    """
    if isinstance(first, cst.ParenthesizedWhitespace):
        if isinstance(second, cst.ParenthesizedWhitespace):
            return _join_lines(first, second)
        return first if _has_comment(first) else second
    if isinstance(second, cst.ParenthesizedWhitespace):
        return second
    return first


def _join_lines(
    first: cst.ParenthesizedWhitespace, second: cst.ParenthesizedWhitespace
) -> cst.ParenthesizedWhitespace:
    moved = second.first_line.comment
    own_line = [] if moved is None else comment_lines(first, [moved.value])
    return first.with_changes(
        empty_lines=[*first.empty_lines, *own_line, *second.empty_lines],
        indent=second.indent,
        last_line=second.last_line,
    )


def _has_comment(whitespace: cst.ParenthesizedWhitespace) -> bool:
    return whitespace.first_line.comment is not None or any(
        line.comment is not None for line in whitespace.empty_lines
    )


def comment_lines(
    indent_like: cst.ParenthesizedWhitespace, comments: Sequence[str]
) -> list[cst.EmptyLine]:
    """Comment lines indented like the line that ``indent_like`` ends with."""
    return [
        cst.EmptyLine(
            indent=indent_like.indent,
            whitespace=indent_like.last_line,
            comment=cst.Comment(text),
        )
        for text in comments
    ]
