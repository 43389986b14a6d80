"""The ``fireworks-training`` command.

Exit codes: 0 success; 1 the service refused or failed; 2 bad input or usage (nothing was
sent); 3 nothing matched (no such checkpoint); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections.abc import Sequence
from typing import Any

from ._version import __version__
from .errors import CheckpointNotFoundError, FireworksError, InvalidArgumentError

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
    promote.add_argument("--job-id", required=True)
    which = promote.add_mutually_exclusive_group()
    which.add_argument("--checkpoint-name", help="exact or logical name (default: latest)")
    which.add_argument("--step", type=int, help="the step to promote (default: latest)")
    promote.add_argument(
        "--checkpoints-jsonl", help="run ledger (a file, or a log_path URL), for the base model"
    )
    promote.add_argument("--output-model-id", required=True)
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
_EXTRA_HELP = {"emulator": "run the emulator", "migrate": "rewrite legacy promote calls"}


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


def _list(args: argparse.Namespace) -> int:
    from .checkpoints import newest_first

    with _client(args) as client:
        rows = newest_first(client.list_checkpoints(args.job_id))
    if args.json:
        print(json.dumps([row.to_wire() for row in rows], indent=2))
        return EXIT_OK
    from ._console import checkpoint_table, console

    console().print(checkpoint_table(rows, title=f"checkpoints of {args.job_id}"))
    return EXIT_OK


def _ledger_base_model(path: str | None, checkpoint_id: str) -> str | None:
    if path is None:
        return None
    from .checkpoints.ledger import ledger_at

    for record in ledger_at(path).newest_first():
        if record.base_model and checkpoint_id in (record.sampler_path, record.name):
            return record.base_model
    return None


def _check_promote_args(args: argparse.Namespace) -> None:
    """Everything checkable without the service; raises before any request is sent."""
    import os

    from .checkpoints import TrainerJobName, require_output_model_id
    from .checkpoints.workflow import check_selection
    from .clients._job_rules import check_timeout

    TrainerJobName.parse_ref(args.job_id)
    require_output_model_id(args.output_model_id)
    check_selection(args.step, args.checkpoint_name)
    if args.base_model is not None and not args.base_model.strip():
        raise InvalidArgumentError("--base-model must not be empty")
    check_timeout(args.timeout, what="--timeout")
    jsonl = args.checkpoints_jsonl
    if jsonl is not None and "://" in jsonl:
        from .checkpoints.ledger import ledger_at

        ledger_at(jsonl)  # a log_path URL: its scheme and extra are checked, nothing is read
    elif jsonl is not None and not (os.path.isfile(jsonl) and os.access(jsonl, os.R_OK)):
        raise InvalidArgumentError(f"--checkpoints-jsonl {jsonl!r} is not a readable file")


def _promote(args: argparse.Namespace) -> int:
    from .checkpoints.workflow import select_checkpoint

    _check_promote_args(args)
    with _client(args) as client:
        rows = client.list_checkpoints(args.job_id)
        row = select_checkpoint(
            rows, job_id=args.job_id, step=args.step, checkpoint_name=args.checkpoint_name
        )
        base_model = args.base_model or _ledger_base_model(
            args.checkpoints_jsonl, row.checkpoint_id
        )
        operation = client.begin_promote_checkpoint(
            name=row.name, output_model_id=args.output_model_id, base_model=base_model
        )
        from ._console import console, wait_with_spinner

        model = wait_with_spinner(operation, args.timeout, quiet=args.json)
    if args.json:
        print(json.dumps(model.to_wire(), indent=2))
    else:
        console().print(f"promoted {row.name} -> [bold]{model.name}[/] ({model.state})")
    return EXIT_OK


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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else None
    extra = missing_extra(command)
    if extra is not None:
        print(
            f"error: 'fireworks-training {command}' needs the {extra} extra: "
            f"pip install 'fireworks-training[{extra}]'",
            file=sys.stderr,
        )
        return EXIT_USAGE
    args = _build_parser(command).parse_args(argv)
    try:
        return _dispatch(args)
    except InvalidArgumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CheckpointNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except FireworksError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
