"""The ``fireworks-training`` command.

Exit codes: 0 success; 1 the service refused or failed, or anything unexpected; 2 bad input
or usage (nothing was sent); 3 nothing matched (no such checkpoint); 130 interrupted.
A failure is one line on stderr (``-v`` adds the traceback); server text is printed as it
is, never read as markup.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import re
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._version import __version__
from .errors import (
    CheckpointNotFoundError,
    ConflictError,
    FireworksError,
    InvalidArgumentError,
)

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_INTERRUPTED = 130


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-key", help="API key (default: $FIREWORKS_API_KEY)")
    parser.add_argument("--base-url", help="control plane URL (default: $FIREWORKS_BASE_URL)")
    parser.add_argument("--account-id", help="account id (default: looked up with the key)")
    parser.add_argument("--json", action="store_true", help="print JSON for machines")


def _checkpoints_parser(sub: Any) -> None:
    ckpt = sub.add_parser("checkpoints", help="list and promote checkpoints of a trainer job")
    actions = ckpt.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list checkpoints, newest first")
    listing.add_argument("--job-id", required=True)
    _connection_options(listing)
    promote = actions.add_parser("promote", help="promote a checkpoint to a model")
    promote.add_argument("--job-id", help="default: the ledger's trainer job")
    which = promote.add_mutually_exclusive_group()
    which.add_argument("--checkpoint-name", help="exact or logical name (default: latest)")
    which.add_argument("--step", type=int, help="the step to promote (default: latest)")
    promote.add_argument(
        "--checkpoints-jsonl",
        help="run ledger (a file or a log_path URL): the trainer job and base model by default",
    )
    promote.add_argument(
        "--output-model-id", help="default: <job id>-<checkpoint id>, the same on every run"
    )
    promote.add_argument("--base-model", help="default: from the ledger or the trainer job")
    promote.add_argument("--timeout", type=float, default=None, help="seconds to wait")
    _connection_options(promote)


# Commands of an extra: the extra, the modules it installs, and (for a command that parses
# its own arguments) the module that fills its parser.
_EXTRA_COMMANDS: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "demo": ("emulator", ("starlette", "uvicorn"), None),
    "emulator": ("emulator", ("starlette", "uvicorn"), ".emulator.command"),
    "migrate": ("migrate", ("libcst",), ".migrate.runner"),
}
_EXTRA_HELP = {
    "emulator": "run the emulator",
    "migrate": "rewrite official SDK imports and legacy promote calls",
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-removed install counts as missing
        return False


def missing_extra(command: str | None) -> str | None:
    """The extra ``command`` needs and that is not installed, if any."""
    extra, needs, _ = _EXTRA_COMMANDS.get(command or "", ("", (), None))
    if extra and not all(_installed(module) for module in needs):
        return extra
    return None


def _extra_commands(sub: Any, wanted: str | None) -> None:
    """Add the commands of the extras; import a command's module only when it is ``wanted``."""
    for name, help_text in _EXTRA_HELP.items():
        parser = sub.add_parser(name, help=help_text)
        module = _EXTRA_COMMANDS[name][2]
        if name == wanted and module is not None:
            importlib.import_module(module, __package__).add_arguments(parser)


def _build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s extra (libcst, starlette) is imported to fill it."""
    parser = argparse.ArgumentParser(
        prog="fireworks-training",
        description="Save, list and promote Fireworks training checkpoints.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="tracebacks on failure")
    sub = parser.add_subparsers(dest="command", required=True)
    _checkpoints_parser(sub)
    demo = sub.add_parser("demo", help="run the offline demo: train, crash, resume, promote")
    demo.add_argument("--steps", type=int, default=30)
    demo.add_argument("--save-interval", type=int, default=5)
    demo.add_argument("--workdir", help="where the run writes (default: a temp folder)")
    _extra_commands(sub, command)
    return parser


def _client(args: argparse.Namespace) -> Any:
    from .clients.fireworks import FireworksClient

    return FireworksClient(args.api_key, args.base_url, account_id=args.account_id)


def _listed(client: Any, job_id: str) -> list[Any]:
    """The job's rows, every field checked (the command shows them all): a row off the
    protocol (a name that is not a checkpoint name, a bad time) is a ``ProtocolError``."""
    from ._protocol import parsed

    rows: list[Any] = client.list_checkpoints(job_id)
    for row in rows:
        parsed(lambda r: r.check().resource_name, row, where=f"checkpoints of {job_id}")
    return rows


def _list(args: argparse.Namespace) -> int:
    from .checkpoints import newest_first

    with _client(args) as client:
        rows = newest_first(_listed(client, args.job_id))
    if args.json:
        print(json.dumps([row.to_wire() for row in rows], indent=2))
        return EXIT_OK
    from ._console import checkpoint_table, console

    console().print(checkpoint_table(rows, title=f"checkpoints of {args.job_id}"))
    return EXIT_OK


def _ledger_records(path: str | None) -> list[Any]:
    """The ledger's records, newest first (none without ``--checkpoints-jsonl``)."""
    if path is None:
        return []
    from .checkpoints.ledger import ledger_at

    return list(ledger_at(path).newest_first())


def _ledger_base_model(records: list[Any], checkpoint_id: str) -> str | None:
    for record in records:
        if record.base_model and checkpoint_id in (record.sampler_path, record.name):
            return str(record.base_model)
    return None


def _ledger_job(records: list[Any], path: str) -> str:
    """The trainer job of the ledger's newest promotable save (else of its newest save)."""
    jobs = [r for r in records if r.source_job_id and r.sampler_path] or [
        r for r in records if r.source_job_id
    ]
    if not jobs:
        raise InvalidArgumentError(
            f"--checkpoints-jsonl {path!r} names no trainer job (no source_job_id); pass --job-id"
        )
    return str(jobs[0].source_job_id)


def default_output_model_id(job_id: str, checkpoint_id: str) -> str:
    """``<job id>-<checkpoint id>`` as a model id: the same on every run of the command.

    Lowercased, other characters as ``-``, at most 63 characters (the job id is cut first,
    so checkpoints of one job never share a default). A re-run after an interruption so
    finds the model its first run made.
    """

    def clean(text: str) -> str:
        return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]+", "-", text.lower())).strip("-")

    checkpoint = clean(checkpoint_id)[:63]
    room = 63 - len(checkpoint) - 1
    job = clean(job_id.rsplit("/", 1)[-1])[: max(room, 0)].rstrip("-")
    return f"{job}-{checkpoint}" if job else checkpoint


@dataclass(frozen=True)
class _PromoteTarget:
    job_id: str
    records: list[Any]


def _check_promote_args(args: argparse.Namespace) -> _PromoteTarget:
    """Everything checkable without the service; raises before any request is sent."""
    import os

    from .checkpoints import TrainerJobName, require_output_model_id
    from .checkpoints.workflow import check_selection
    from .clients._job_rules import check_timeout

    jsonl = args.checkpoints_jsonl
    # A log_path URL is checked (scheme, extra) when its records are read, below.
    is_file = jsonl is not None and "://" not in jsonl
    if is_file and not (os.path.isfile(jsonl) and os.access(jsonl, os.R_OK)):
        raise InvalidArgumentError(f"--checkpoints-jsonl {jsonl!r} is not a readable file")
    if args.job_id is None and jsonl is None:
        raise InvalidArgumentError("pass --job-id or --checkpoints-jsonl (or both)")
    if args.output_model_id is not None:
        require_output_model_id(args.output_model_id)
    check_selection(args.step, args.checkpoint_name)
    if args.base_model is not None and not args.base_model.strip():
        raise InvalidArgumentError("--base-model must not be empty")
    check_timeout(args.timeout, what="--timeout")
    records = _ledger_records(jsonl)
    job_id = args.job_id if args.job_id is not None else _ledger_job(records, jsonl)
    TrainerJobName.parse_ref(job_id)
    return _PromoteTarget(job_id, records)


def _promote(args: argparse.Namespace) -> int:
    from .checkpoints.workflow import select_checkpoint

    target = _check_promote_args(args)
    with _client(args) as client:
        rows = _listed(client, target.job_id)
        row = select_checkpoint(
            rows, job_id=target.job_id, step=args.step, checkpoint_name=args.checkpoint_name
        )
        base_model = args.base_model or _ledger_base_model(target.records, row.checkpoint_id)
        output = args.output_model_id or default_output_model_id(target.job_id, row.checkpoint_id)
        try:
            operation = client.begin_promote_checkpoint(
                name=row.name, output_model_id=output, base_model=base_model
            )
        except ConflictError as conflict:
            operation = _earlier_promotion(client, row["name"], output, conflict)
            if not args.json:
                print(f"note: {output} was already made from this checkpoint", file=sys.stderr)
        from ._console import console, literal, wait_with_spinner

        model = wait_with_spinner(operation, args.timeout, quiet=args.json)
    if args.json:
        print(json.dumps(model.to_wire(), indent=2))
    else:
        console().print(
            "promoted ", literal(row.name), " -> ", literal(model.name, style="bold"),
            " (", literal(model.state), ")", sep="",
        )  # fmt: skip
    return EXIT_OK


def _earlier_promotion(client: Any, checkpoint: str, output: str, conflict: ConflictError) -> Any:
    """An operation on model ``output`` if an earlier run made it from ``checkpoint``.

    It waits until the model is READY, as a promotion does; another checkpoint's model
    raises the conflict.
    """
    from ._sync.operations import Operation
    from .checkpoints import CheckpointName
    from .clients._promotion import Promotion, model_from_response, model_status, same_checkpoint

    model = client.get_model(output)
    if not same_checkpoint(model, Promotion(CheckpointName.parse(checkpoint), output, "")):
        raise conflict

    def refresh(name: str) -> Any:
        return model_status(client.get_model(name))

    return Operation(model_status(model), refresh=refresh, parse=model_from_response)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "checkpoints":
        return _list(args) if args.action == "list" else _promote(args)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(steps=args.steps, save_interval=args.save_interval, workdir=args.workdir)
    if args.command == "emulator":
        from .emulator import command as emulator_command

        return int(emulator_command.run(args))
    if args.command == "migrate":
        from . import migrate

        return int(migrate.main_from_args(args))
    raise AssertionError(f"unhandled command {args.command!r}")  # pragma: no cover


def _error(exc: BaseException, *, verbose: bool, prefix: str = "error: ") -> None:
    """One line on stderr (server text shown literally); the traceback first with ``-v``."""
    from ._console import printable

    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    text = " ".join(str(exc).split()) or type(exc).__name__
    print(f"{prefix}{printable(text)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    extra = missing_extra(command)
    if extra is not None:
        print(
            f"error: 'fireworks-training {command}' needs the {extra} extra: "
            f"pip install 'fireworks-training[{extra}]'",
            file=sys.stderr,
        )
        return EXIT_USAGE
    args = _build_parser(command).parse_args(argv)
    verbose = bool(args.verbose)
    try:
        return _dispatch(args)
    except InvalidArgumentError as exc:
        _error(exc, verbose=verbose)
        return EXIT_USAGE
    except CheckpointNotFoundError as exc:
        _error(exc, verbose=verbose)
        return EXIT_NOT_FOUND
    except FireworksError as exc:
        _error(exc, verbose=verbose)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug or an unforeseen failure: still one line, exit 1
        _error(exc, verbose=verbose, prefix=f"error: unexpected {type(exc).__name__}: ")
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
