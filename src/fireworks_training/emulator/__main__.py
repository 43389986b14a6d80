"""``python -m fireworks_training.emulator``: the same as ``fireworks-training emulator``."""

from __future__ import annotations

import argparse

from .command import add_arguments, run


def main() -> int:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(
        prog="python -m fireworks_training.emulator",
        description="Serve the Fireworks emulator, or switch faults on a running one.",
    )
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
