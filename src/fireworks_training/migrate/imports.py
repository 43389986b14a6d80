"""Imports from the official SDK, rewritten to ``fireworks_training`` name by name.

``from fireworks.training.sdk[.<module>] import A, B as C`` (``fireworks.training.tinker`` is
the same module) becomes ``from fireworks_training[.<module>] import ...`` for every name
this package provides: the same-named submodule when it has the name
(``fireworks_training.trainer``, ``.fireworks_client``, ...), else the package root. A name
this package does not provide (deployments, sampling, training_spec, TITO, ...) stays on its
official import, split onto its own line, and is reported: the code keeps working while the
official SDK is installed. Module imports (``import fireworks.training.sdk``) and star
imports are reported, not rewritten: which names they use is not visible in the statement.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import libcst as cst
from libcst.helpers import get_full_name_for_node

__all__ = [
    "OFFICIAL_PACKAGES",
    "PACKAGE",
    "ImportPlan",
    "official_module",
    "our_target",
    "plan_import",
]

PACKAGE = "fireworks_training"
# The official package, and its second name (the same module object).
OFFICIAL_PACKAGES = ("fireworks.training.sdk", "fireworks.training.tinker")
# Official aliases whose target here has another name.
_RENAMED = {
    "ServiceClient": "FiretitanServiceClient",
    "TrainingClient": "FiretitanTrainingClient",
    "SamplingClient": "FiretitanSamplingClient",
}


def official_module(dotted: str | None) -> str | None:
    """The submodule path of an official import (``""`` for the package), or None."""
    if dotted is None:
        return None
    for package in OFFICIAL_PACKAGES:
        if dotted == package:
            return ""
        if dotted.startswith(package + "."):
            return dotted[len(package) + 1 :]
    return None


@cache
def our_target(submodule: str, name: str) -> tuple[str, str] | None:
    """(our module, our name) providing the official ``submodule.name``, or None."""
    candidates = [f"{PACKAGE}.{submodule}"] if submodule else []
    candidates.append(PACKAGE)
    for module in candidates:
        for ours in (name, _RENAMED.get(name)):
            if ours is not None and _provides(module, ours):
                return module, ours
    return None


def _provides(module: str, name: str) -> bool:
    try:
        imported = importlib.import_module(module)
    except ImportError:
        return False
    public = getattr(imported, "__all__", None)
    if public is not None and name not in public:
        return False
    try:
        getattr(imported, name)
    except (AttributeError, ImportError):
        return False
    return True


@dataclass(frozen=True)
class ImportPlan:
    """What happens to one ``from <official> import ...``: new statements and the report."""

    statements: list[cst.ImportFrom]
    moved: list[tuple[str, str]]  # (our module, name as imported)
    kept: list[str]  # names left on the official import


def plan_import(node: cst.ImportFrom) -> ImportPlan | None:
    """The rewrite of an official ``from`` import; None when it is not one (or is ``*``)."""
    if node.relative or isinstance(node.names, cst.ImportStar) or node.module is None:
        return None
    submodule = official_module(get_full_name_for_node(node.module))
    if submodule is None:
        return None
    groups: dict[str, list[cst.ImportAlias]] = {}
    kept: list[cst.ImportAlias] = []
    moved: list[tuple[str, str]] = []
    for alias in node.names:
        name = get_full_name_for_node(alias.name) or ""
        target = our_target(submodule, name)
        if target is None:
            kept.append(alias)
            continue
        module, ours = target
        groups.setdefault(module, []).append(_renamed(alias, name, ours))
        moved.append((module, name))
    statements = [_with_names(node, aliases, module) for module, aliases in groups.items()]
    if kept:
        statements.append(_with_names(node, kept, None))
    return ImportPlan(statements, moved, [get_full_name_for_node(a.name) or "" for a in kept])


def _renamed(alias: cst.ImportAlias, name: str, ours: str) -> cst.ImportAlias:
    if ours == name:
        return alias
    asname = alias.asname or cst.AsName(name=cst.Name(name))
    return alias.with_changes(name=cst.Name(ours), asname=asname)


def _with_names(
    node: cst.ImportFrom, aliases: Sequence[cst.ImportAlias], module: str | None
) -> cst.ImportFrom:
    """``node`` importing ``aliases`` (from ``module``, else from where it did)."""
    last_comma = node.names[-1].comma if isinstance(node.names, Sequence) else None
    names = list(aliases)
    # The last name keeps the statement's own ending: a trailing comma only in parentheses.
    ending = last_comma if node.lpar is not None else cst.MaybeSentinel.DEFAULT
    names[-1] = names[-1].with_changes(comma=ending)
    for index in range(len(names) - 1):
        if not isinstance(names[index].comma, cst.Comma):
            names[index] = names[index].with_changes(
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            )
    changes: dict[str, object] = {"names": names}
    if module is not None:
        changes["module"] = cst.parse_expression(module)
    return node.with_changes(**changes)
