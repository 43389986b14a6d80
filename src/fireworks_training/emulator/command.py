"""``fireworks-training emulator``: serve the emulator, or switch faults on a running one.

The CLI wires :func:`add_arguments` and :func:`run`; ``python -m fireworks_training.emulator``
uses them too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from .settings import PROMOTION_MODES, Settings

__all__ = ["DEFAULT_PORT", "add_arguments", "run"]

DEFAULT_PORT = 8765  # the command serves on a well-known port; Emulator() picks a free one
_DEFAULTS = Settings()
_SECONDS = (
    "promotion_seconds",
    "long_poll_seconds",
    "job_start_seconds",
    "deployment_start_seconds",
    "hotload_seconds",
)
_KEY_ENV = "FIREWORKS_API_KEY"
_URL_ENV = "FIREWORKS_BASE_URL"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Serving options, plus the ``faults`` subcommands for a running emulator."""
    parser.add_argument("--host", default=_DEFAULTS.host, help="interface to bind (loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--state-dir", default=None, help="keep state here across restarts")
    parser.add_argument(
        "--api-key",
        default=None,
        help=f"key clients must send (default ${_KEY_ENV} or the default key)",
    )
    parser.add_argument("--account-id", default=_DEFAULTS.account_id)
    parser.add_argument(
        "--promotion-mode", choices=PROMOTION_MODES, default=_DEFAULTS.promotion_mode
    )
    for name in _SECONDS:
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=float, default=getattr(_DEFAULTS, name), metavar="S")
    sub = parser.add_subparsers(dest="emulator_command", metavar="{faults}")
    faults = sub.add_parser("faults", help="switch fault injection on a running emulator")
    faults.add_argument("--url", default=None, help=f"emulator URL (default ${_URL_ENV})")
    faults.add_argument("--api-key", default=argparse.SUPPRESS)
    actions = faults.add_subparsers(dest="faults_command", required=True)
    _add_rule_arguments(actions.add_parser("add", help="add a fault rule"))
    actions.add_parser("list", help="show rules and injected-fault counts")
    actions.add_parser("clear", help="remove every rule")
    preempt = actions.add_parser("preempt", help="preempt a trainer job")
    preempt.add_argument("job_id")
    promotion = actions.add_parser("promotion", help="promotion mode and legacy rejection")
    promotion.add_argument("--mode", choices=PROMOTION_MODES)
    promotion.add_argument("--seconds", type=float)
    promotion.add_argument("--legacy", action=argparse.BooleanOptionalAction, default=None)


def _add_rule_arguments(add: argparse.ArgumentParser) -> None:
    add.add_argument("--route", default="*", help="glob on the path, an op name, or a :verb")
    kind = add.add_mutually_exclusive_group()
    kind.add_argument(
        "--status",
        dest="statuses",
        type=int,
        action="append",
        metavar="CODE",
        help="status to inject (repeatable; default 503)",
    )
    kind.add_argument(
        "--spike",
        action="store_true",
        help="a latency spike: no status, fired requests wait --latency, then pass",
    )
    add.add_argument("--rate", type=float, help="probability per matching request (default 1)")
    add.add_argument(
        "--script",
        metavar="LIST",
        help="comma list consumed one per request: a status, 'ok', 'drop_connection', "
        "'drop_response'",
    )
    add.add_argument("--retry-after", type=float, metavar="S", help="Retry-After seconds")
    add.add_argument("--drop-connection", action="store_true", help="close before handling")
    add.add_argument("--drop-response", action="store_true", help="handle, then close unanswered")
    add.add_argument("--latency", dest="latency_s", type=float, default=0.0, metavar="S")
    add.add_argument("--seed", type=int, help="seed for --rate")


def _script(text: str | None) -> list[int | str | None] | None:
    if text is None:
        return None
    entries: list[int | str | None] = []
    for item in (part.strip() for part in text.split(",")):
        entries.append(
            None if item in ("ok", "none", "") else int(item) if item.isdigit() else item
        )
    return entries


def _rule_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {
        "route": args.route,
        "script": _script(args.script),
        "rate": args.rate,
        "retry_after": args.retry_after,
        "drop_connection": args.drop_connection,
        "drop_response": args.drop_response,
        "latency_s": args.latency_s,
        "seed": args.seed,
    }
    if args.statuses:
        body["statuses"] = args.statuses
    if args.spike:
        body["statuses"] = []
    return {k: v for k, v in body.items() if v is not None}


def _rule_error(args: argparse.Namespace) -> str | None:
    if args.spike and not args.latency_s > 0:
        return "--spike needs --latency S (S > 0)"
    if args.spike and (args.drop_connection or args.drop_response or args.script):
        return "--spike takes no --drop-connection, --drop-response or --script"
    return None


def _admin_request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    command = args.faults_command
    if command == "add":
        return "POST", "/_emulator/faults", _rule_body(args)
    if command == "clear":
        return "DELETE", "/_emulator/faults", None
    if command == "preempt":
        return "POST", f"/_emulator/jobs/{args.job_id}:preempt", None
    if command == "promotion":
        body = {"mode": args.mode, "seconds": args.seconds, "legacy_async_promotion": args.legacy}
        return "POST", "/_emulator/promotion", {k: v for k, v in body.items() if v is not None}
    return "GET", "/_emulator/faults", None


def _run_faults(args: argparse.Namespace) -> int:
    url = args.url or os.environ.get(_URL_ENV) or f"http://127.0.0.1:{DEFAULT_PORT}"
    key = args.api_key or os.environ.get(_KEY_ENV) or _DEFAULTS.api_key
    error = _rule_error(args) if args.faults_command == "add" else None
    if error is not None:
        print(f"error: {error}", file=sys.stderr)
        return 2
    method, path, body = _admin_request(args)
    try:
        with httpx.Client(base_url=url, headers={"X-Api-Key": key}, timeout=10.0) as client:
            response = client.request(method, path, json=body)
    except httpx.HTTPError as exc:
        print(f"error: cannot reach the emulator at {url}: {exc}", file=sys.stderr)
        return 2
    if response.is_error:
        print(f"error: {response.status_code} {method} {path}: {response.text}", file=sys.stderr)
        return 1
    print(json.dumps(response.json(), indent=2))
    return 0


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        host=args.host,
        port=args.port,
        api_key=args.api_key or os.environ.get(_KEY_ENV) or _DEFAULTS.api_key,
        account_id=args.account_id,
        promotion_mode=args.promotion_mode,
        **{name: getattr(args, name) for name in _SECONDS},
    )


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import build_app
    from .backend import Backend
    from .server import bind_socket, make_config

    settings = _settings(args)
    with tempfile.TemporaryDirectory(prefix="fw-emulator-") as tmp:
        root = Path(args.state_dir) if args.state_dir else Path(tmp)
        backend = Backend(root, settings)
        sock = bind_socket(settings.host, settings.port)
        sock.listen()  # connections made once the banner is out wait instead of being refused
        port = sock.getsockname()[1]
        key = "the default key" if settings.api_key == _DEFAULTS.api_key else "as configured"
        print(f"Fireworks emulator on http://{settings.host}:{port}", flush=True)
        print(f"  account: {settings.account_id}; api key: {key}")
        print(f"  state dir: {root}{'' if args.state_dir else ' (temporary)'}", flush=True)
        config = make_config(build_app(backend), settings.host, port, access_log=True)
        try:
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            sock.close()
    return 0


def run(args: argparse.Namespace) -> int:
    """Serve, or talk to a running emulator's admin routes; returns the exit code."""
    if getattr(args, "emulator_command", None) == "faults":
        return _run_faults(args)
    return _serve(args)
