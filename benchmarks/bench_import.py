"""Import time in a fresh interpreter: ours vs the official client's training SDK.

Each child interpreter times only the import statement (``perf_counter`` around it), so the
interpreter's own start-up, the same for both, is left out. Children alternate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .harness import compare
from .official import OfficialClient
from .report import Bar, Config, Result, Row

__all__ = ["run"]

TARGET_VS_OFFICIAL = 0.5
OURS = "import fireworks_training"
OURS_CLIENT = "from fireworks_training import FireworksClient"
OFFICIAL = "from fireworks.training.sdk import FireworksClient"
_CHILD = (
    "import json, sys, time\n"
    "start = time.perf_counter()\n"
    "exec(sys.argv[1])\n"
    "seconds = time.perf_counter() - start\n"
    "print(json.dumps({'seconds': seconds, 'tinker': 'tinker' in sys.modules,"
    " 'modules': len(sys.modules)}))\n"
)


def child_env() -> dict[str, str]:
    """The environment of an import child: this one, but writing bytecode caches.

    An installed package has them (pip compiles every module it installs, as it did for the
    official client's virtualenv); ours runs from the source tree, where the warm-up round
    writes them, unless ``PYTHONDONTWRITEBYTECODE`` forbids it: every timed import would
    then compile our modules from source, which no installed copy does.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def import_child(python: str, statement: str) -> dict[str, float]:
    """Run ``statement`` in a fresh ``python``; its seconds, module count, tinker loaded."""
    out = subprocess.run(
        [python, "-c", _CHILD, statement],
        capture_output=True,
        text=True,
        check=True,
        env=child_env(),
    )
    reply: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return reply


def run(config: Config, official: OfficialClient | None) -> Result:
    """Both statements of ours, and the official one when installed, alternating."""
    result = Result("Import time")
    ours_python = sys.executable
    sides = {
        "ours": lambda: import_child(ours_python, OURS)["seconds"],
        "ours_client": lambda: import_child(ours_python, OURS_CLIENT)["seconds"],
    }
    if official is not None:
        official_python = str(official.python)
        sides["official"] = lambda: import_child(official_python, OFFICIAL)["seconds"]
    times = compare(sides, config.import_rounds)
    tinker = import_child(ours_python, OURS)["tinker"]
    modules = {
        "ours": import_child(ours_python, OURS)["modules"],
        "ours_client": import_child(ours_python, OURS_CLIENT)["modules"],
    }
    ms = {side: times.median(side) * 1e3 for side in times.seconds}
    target = f"≤ {TARGET_VS_OFFICIAL}x official"
    # Both carry the target: the bare import is lazy and loads almost nothing, so the
    # client import is the like-for-like one.
    for side, statement in (("ours", OURS), ("ours_client", OURS_CLIENT)):
        label = f"`{statement}`, fresh interpreter"
        ours_text = f"ours {ms[side]:.0f} ms ({modules[side]:.0f} modules)"
        if official is None:
            result.rows.append(Row(label, ours_text, "official client not measured", target, None))
            continue
        ratio = times.ratio(side, "official")
        result.rows.append(
            Row(
                label,
                f"{ours_text}; official `{OFFICIAL}` {ms['official']:.0f} ms",
                f"{ratio:.2f}x official",
                target,
                ratio <= TARGET_VS_OFFICIAL,
            )
        )
        result.bars.append(Bar(f"{statement} / official import", ratio, TARGET_VS_OFFICIAL))
    result.notes.append(
        f"{times.rounds} alternating rounds of fresh interpreters after a warm-up, which also "
        "writes our bytecode caches (even under `PYTHONDONTWRITEBYTECODE`, which the children "
        "do not inherit): an installed package has them, as pip compiled the official "
        f"client's. `import fireworks_training` loads tinker: {bool(tinker)}. "
        "The package imports its names on first use, so `import fireworks_training` loads "
        "almost nothing; `from fireworks_training import FireworksClient` (httpx and the sync "
        "client's modules) is the like-for-like comparison and carries the same target. "
        "httpx's own import also loads its optional command line (click, pygments, rich), "
        "about a fifth of the client import: tinker, one of our dependencies, "
        "requires click and rich. What the client import loads, and so the gap, is in §1 of "
        "the profiles below; `python -m benchmarks.profile import-client` re-runs that profile."
    )
    return result
