"""Codemod for official imports and legacy promote calls (``fireworks-training migrate``).

Needs the ``migrate`` extra. Rewrites ``from fireworks.training.sdk[.<module>] import ...``
(and ``fireworks.training.tinker``) to ``fireworks_training`` for every name this package
provides, leaving the others on the official import and reporting them; and rewrites
``x.promote_checkpoint(job_id, checkpoint_id, output_model_id, base_model)``, in
positional, keyword or mixed spelling, to
``x.promote_checkpoint(name=x.checkpoint_name(job_id, checkpoint_id), output_model_id=...,
base_model=...)``, keeping formatting and comments; reports the calls it cannot rewrite
safely. See ``docs/migration.md``.
"""

from __future__ import annotations

from .result import Change, ImportChange, KeptImport, MigrationResult, UnsafeCall
from .runner import add_arguments, main_from_args, run
from .transform import migrate_source

__all__ = [
    "Change",
    "ImportChange",
    "KeptImport",
    "MigrationResult",
    "UnsafeCall",
    "add_arguments",
    "main_from_args",
    "migrate_source",
    "run",
]
