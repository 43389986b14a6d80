# ruff: noqa: E501  (snippets are source text whose exact lines are the point)
"""Imports from the official SDK: every form the cookbooks use, rewritten or kept and reported.

The snippets are written here for these tests; they use the import forms listed from the
cookbooks (one statement or several names, parentheses, aliases, function-local, inside
``try``/``except ImportError``, the ``fireworks.training.tinker`` alias, module and star
imports). Trainer-client names (``.client``) may move between our modules as the trainer
client grows, so those cases check what the rewritten import *binds*, not its spelling.
"""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import fireworks_training
from fireworks_training import fireworks_client, trainer
from fireworks_training.migrate import migrate_source, run
from fireworks_training.migrate.imports import our_target


@dataclass(frozen=True)
class Case:
    id: str
    before: str
    after: str | None  # None: unchanged
    moved: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()


CASES = [
    Case(
        "root_one_name",
        "from fireworks.training.sdk import validate_output_model_id\n",
        "from fireworks_training import validate_output_model_id\n",
        moved=("validate_output_model_id",),
    ),
    Case(
        "root_two_names",
        "from fireworks.training.sdk import FireworksClient, TrainerJobManager\n",
        "from fireworks_training import FireworksClient, TrainerJobManager\n",
        moved=("FireworksClient", "TrainerJobManager"),
    ),
    Case(
        "root_mixed_provided_and_not",
        "from fireworks.training.sdk import DeploymentCleanupOnClose, FireworksClient, TrainerJobManager\n",
        "from fireworks_training import FireworksClient, TrainerJobManager\n"
        "from fireworks.training.sdk import DeploymentCleanupOnClose\n",
        moved=("FireworksClient", "TrainerJobManager"),
        kept=("DeploymentCleanupOnClose",),
    ),
    Case(
        "root_nothing_provided",
        "from fireworks.training.sdk import CLEANUP_DEPLOYMENT_ON_CLOSE_SCALE_TO_ZERO\n",
        None,
        kept=("CLEANUP_DEPLOYMENT_ON_CLOSE_SCALE_TO_ZERO",),
    ),
    Case(
        "root_alias",
        "from fireworks.training.sdk import FireworksClient as Control\n",
        "from fireworks_training import FireworksClient as Control\n",
        moved=("FireworksClient",),
    ),
    Case(
        "tinker_alias_of_the_package",
        "from fireworks.training.tinker import FireworksClient\n",
        "from fireworks_training import FireworksClient\n",
        moved=("FireworksClient",),
    ),
    Case(
        "trainer_submodule",
        "from fireworks.training.sdk.trainer import TrainerJobManager, TrainerServiceEndpoint\n",
        "from fireworks_training.trainer import TrainerJobManager, TrainerServiceEndpoint\n",
        moved=("TrainerJobManager", "TrainerServiceEndpoint"),
    ),
    Case(
        "trainer_config_of_the_older_layer",
        "from fireworks.training.sdk.trainer import TrainerJobConfig\n",
        "from fireworks_training.trainer import TrainerJobConfig\n",
        moved=("TrainerJobConfig",),
    ),
    Case(
        "fireworks_client_submodule",
        "from fireworks.training.sdk.fireworks_client import TrainingShapeProfile\n",
        "from fireworks_training.fireworks_client import TrainingShapeProfile\n",
        moved=("TrainingShapeProfile",),
    ),
    Case(
        "function_local",
        """\
def make_manager(key, url):
    from fireworks.training.sdk.trainer import TrainerJobManager  # only when called

    return TrainerJobManager(api_key=key, base_url=url)
""",
        """\
def make_manager(key, url):
    from fireworks_training.trainer import TrainerJobManager  # only when called

    return TrainerJobManager(api_key=key, base_url=url)
""",
        moved=("TrainerJobManager",),
    ),
    Case(
        "parenthesised_mixed",
        """\
from fireworks.training.sdk import (
    FireworksClient,  # control plane
    FiretitanProvisioningConfig,
    TrainerJobManager,
)
""",
        """\
from fireworks_training import (
    FireworksClient,  # control plane
    TrainerJobManager,
)
from fireworks.training.sdk import (
    FiretitanProvisioningConfig,
)
""",
        moved=("FireworksClient", "TrainerJobManager"),
        kept=("FiretitanProvisioningConfig",),
    ),
    Case(
        "deployment_module_partly_provided",
        "from fireworks.training.sdk.deployment import AdaptiveConcurrencyController, DeploymentConfig\n",
        "from fireworks_training.deployment import DeploymentConfig\n"
        "from fireworks.training.sdk.deployment import AdaptiveConcurrencyController\n",
        moved=("DeploymentConfig",),
        kept=("AdaptiveConcurrencyController",),
    ),
    Case(
        "errors_helpers_not_provided",
        "from fireworks.training.sdk.errors import format_sdk_error, DOCS_SDK\n",
        None,
        kept=("format_sdk_error", "DOCS_SDK"),
    ),
    Case(
        "sampling_partly_provided",
        "from fireworks.training.sdk.sampling import SampledCompletion, ServerMetrics\n",
        "from fireworks_training.sampling import SampledCompletion\n"
        "from fireworks.training.sdk.sampling import ServerMetrics\n",
        moved=("SampledCompletion",),
        kept=("ServerMetrics",),
    ),
    Case(
        "training_spec_not_provided",
        """\
from fireworks.training.sdk.training_spec import (
    LRSchedulerSpec,
    compute_lr,
)
""",
        None,
        kept=("LRSchedulerSpec", "compute_lr"),
    ),
    Case(
        "weight_syncer_of_the_older_layer",
        "from fireworks.training.sdk import WeightSyncer\n",
        "from fireworks_training import WeightSyncer\n",
        moved=("WeightSyncer",),
    ),
    Case(
        "two_statements_on_one_line",
        "import os; from fireworks.training.sdk import FireworksClient, FiretitanProvisioningConfig\n",
        "import os; from fireworks_training import FireworksClient; from fireworks.training.sdk import FiretitanProvisioningConfig\n",
        moved=("FireworksClient",),
        kept=("FiretitanProvisioningConfig",),
    ),
    Case(
        "module_import_reported",
        "import fireworks.training.sdk\n\nmanager = fireworks.training.sdk.TrainerJobManager\n",
        None,
        kept=("",),
    ),
    Case(
        "star_import_reported",
        "from fireworks.training.tinker import *\n",
        None,
        kept=("*",),
    ),
    Case(
        "stub_module_names_are_strings",
        """\
import sys
import types

sys.modules["fireworks.training.sdk"] = types.ModuleType("fireworks.training.sdk")
""",
        None,
    ),
    Case(
        "other_fireworks_packages_untouched",
        "from fireworks.client import Fireworks\nfrom fireworks.training import other\n",
        None,
    ),
    Case(
        "already_migrated",
        "from fireworks_training import FireworksClient\n",
        None,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_exact_output(case: Case) -> None:
    result = migrate_source(case.before)
    assert result.code == (case.before if case.after is None else case.after)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_reported(case: Case) -> None:
    result = migrate_source(case.before)
    assert tuple(name for change in result.imports for name in change.names) == case.moved
    kept = tuple(name for k in result.kept_imports for name in (k.names or ("",)))
    assert kept == case.kept
    for k in result.kept_imports:
        assert k.reason


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_second_run_changes_nothing_and_output_compiles(case: Case) -> None:
    first = migrate_source(case.before)
    compile(first.code, case.id, "exec")
    second = migrate_source(first.code)
    assert second.code == first.code
    assert second.imports == []


@pytest.mark.parametrize("case", [c for c in CASES if c.moved], ids=lambda case: case.id)
def test_rewritten_imports_bind_our_objects(case: Case) -> None:
    migrated = migrate_source(case.before).code
    our_lines = "\n".join(
        line.strip()
        for line in _statements(migrated)
        if line.lstrip().startswith("from fireworks_training")
    )
    namespace: dict[str, object] = {}
    exec(our_lines, namespace)
    for name in case.moved:
        bound = [value for key, value in namespace.items() if key in (name, "Control")]
        assert bound, name
        assert bound[0] is getattr(fireworks_training, name, None) or bound[0] in (
            getattr(trainer, name, None),
            getattr(fireworks_client, name, None),
        )


def _statements(code: str) -> list[str]:
    """Top-level and nested import statements, parenthesised ones joined on one line."""
    statements, current = [], ""
    for line in code.splitlines():
        stripped = line.split("#", 1)[0].strip()
        if current:
            current += " " + stripped
            if ")" in stripped:
                statements.append(current)
                current = ""
        elif stripped.startswith("from ") and stripped.endswith("("):
            current = stripped
        elif stripped.startswith(("from ", "import ")):
            statements.extend(part.strip() for part in stripped.split(";"))
    return statements


# Trainer-client names: checked by what they bind ------------------------------------------


TRAINER_CLIENT = """\
try:
    from fireworks.training.sdk.client import (
        FiretitanServiceClient,
        FiretitanTrainingClient,
        GradAccNormalization,
    )
except ImportError:  # older SDKs
    from fireworks.training.sdk.client import (
        FiretitanServiceClient,
        FiretitanTrainingClient,
    )
from fireworks.training.sdk import FiretitanServiceClient as Service, ServiceClient
"""


def test_trainer_client_names_go_where_this_package_provides_them() -> None:
    result = migrate_source(TRAINER_CLIENT)
    compile(result.code, "trainer_client", "exec")
    assert "from fireworks.training.sdk import" not in result.code  # both root names moved
    moved = {name for change in result.imports for name in change.names}
    assert {"FiretitanServiceClient", "FiretitanTrainingClient", "ServiceClient"} <= moved
    for change in result.imports:
        for name, target in zip(change.names, change.targets, strict=True):
            assert our_target(change.module.partition(".sdk")[2].lstrip("."), name) == (
                target,
                "FiretitanServiceClient" if name == "ServiceClient" else name,
            )
    # A name this package does not provide stays on the official import, reported.
    provided = our_target("client", "GradAccNormalization") is not None
    kept = {name for k in result.kept_imports for name in k.names}
    assert ("GradAccNormalization" in kept) is not provided
    assert ("GradAccNormalization" in moved) is provided
    assert "ServiceClient" in result.code  # the official alias keeps its local name


# A cookbook checkout, in one command ------------------------------------------------------

CHECKOUT = {
    "tools/list_rows.py": """\
import json
import sys

from fireworks.training.sdk import FireworksClient


def main(key, url, job):
    client = FireworksClient(api_key=key, base_url=url)
    json.dump(client.list_checkpoints(job), sys.stdout)
""",
    "tools/promote.py": """\
from fireworks.training.sdk import FireworksClient, TrainerJobManager


def promote(mgr: TrainerJobManager, job, ckpt):
    return mgr.promote_checkpoint(job, ckpt, "out-model", "accounts/fireworks/models/m")
""",
    "utils/infra.py": """\
from fireworks.training.sdk import DeploymentManager, TrainerJobManager
from fireworks.training.sdk.trainer import TrainerServiceEndpoint
from fireworks.training.sdk.deployment import DeploymentConfig, AdaptiveConcurrencyController
""",
    "utils/validation.py": """\
from fireworks.training.sdk.errors import format_sdk_error
from fireworks.training.sdk import validate_output_model_id
""",
    "README.md": "from fireworks.training.sdk import FireworksClient\n",
}


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    for relative, text in CHECKOUT.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_checkout_migrates_with_one_command(checkout: Path) -> None:
    out = io.StringIO()
    assert run([checkout], out=out) == 0
    report = out.getvalue().splitlines()
    assert report[-2] == "rewrote 1 call and 6 imports in 4 of 4 files; 0 left to migrate by hand"
    assert report[-1] == (
        "2 official names kept on the official SDK (fireworks_training does not provide them)"
    )
    infra = (checkout / "utils/infra.py").read_text()
    assert infra == (
        "from fireworks_training import DeploymentManager, TrainerJobManager\n"
        "from fireworks_training.trainer import TrainerServiceEndpoint\n"
        "from fireworks_training.deployment import DeploymentConfig\n"
        "from fireworks.training.sdk.deployment import AdaptiveConcurrencyController\n"
    )
    assert (
        f"{checkout / 'utils/infra.py'}:4: import fireworks.training.sdk.deployment: kept: "
        "AdaptiveConcurrencyController: " in out.getvalue()
    )
    promote = (checkout / "tools/promote.py").read_text()
    assert "from fireworks_training import FireworksClient, TrainerJobManager" in promote
    assert "name=mgr.checkpoint_name(job, ckpt)" in promote
    assert (checkout / "README.md").read_text() == CHECKOUT["README.md"]  # not Python
    check = io.StringIO()
    assert run([checkout], check=True, out=check) == 0
    assert "0 legacy calls in 4 files" in check.getvalue().splitlines()


def test_check_counts_official_imports(checkout: Path) -> None:
    out = io.StringIO()
    assert run([checkout / "tools"], check=True, out=out) == 1
    lines = out.getvalue().splitlines()
    assert (
        f"{checkout / 'tools/list_rows.py'}:4: import fireworks.training.sdk: "
        "official import, rewritable: FireworksClient -> fireworks_training"
    ) in lines
    assert lines[-1] == "1 legacy call and 2 official imports in 2 files"


def test_the_command_line(checkout: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fireworks_training", "migrate", str(checkout / "utils")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rewrote 0 calls and 4 imports in 2 of 2 files" in done.stdout
    assert (checkout / "utils/validation.py").read_text() == (
        "from fireworks.training.sdk.errors import format_sdk_error\n"
        "from fireworks_training import validate_output_model_id\n"
    )
