"""What LEAN and QuantConnect's cloud will see: the image's packages and the real API (quantconnect-stubs)."""
from __future__ import annotations

import ast
import json
import os
import shutil
import sys
from importlib import metadata
from pathlib import Path

import pytest
from mypy import api as mypy_api

ROOT = Path(__file__).resolve().parents[1]
LEAN_CODE = [ROOT / "algorithms", ROOT / "Library"]
PROJECT_MODULES = {"AlgorithmImports", "models", "skeleton", "main"}


def _pins() -> set[str]:
    names = set()
    for path in ("foundation-packages.txt", "transitive-packages.txt"):
        for line in (ROOT / "lean_image" / path).read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                names.add(line.split("==")[0].split()[0].lower().replace("_", "-"))
    return names


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def unlisted_imports(paths: list[Path]) -> list[str]:
    pins = _pins()
    distributions = metadata.packages_distributions()
    missing = []
    for path in paths:
        for module in sorted(_imports(path) - PROJECT_MODULES - set(sys.stdlib_module_names)):
            dists = [d.lower().replace("_", "-") for d in distributions.get(module, [module])]
            if not any(d in pins for d in dists):
                missing.append(f"{path.name}: {module} ({', '.join(dists)})")
    return missing


def test_every_third_party_import_is_in_the_lean_image():
    missing = unlisted_imports([p for folder in LEAN_CODE for p in folder.rglob("*.py")])
    assert not missing, "not in the LEAN foundation image (QuantConnect's cloud never installs requirements):\n" + "\n".join(missing)


def test_the_image_check_flags_packages_the_image_lacks(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import numpy\nimport talib\nfrom transformers import T5Config\nimport os\nimport pytest\n")
    assert unlisted_imports([probe]) == ["probe.py: pytest (pytest)"]


def test_transitive_packages_are_really_required_by_pinned_ones():
    for line in (ROOT / "lean_image" / "transitive-packages.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            dist, parent = line.split()
            requires = [r.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].split("!")[0].strip().lower()
                        for r in metadata.requires(parent) or []]
            assert dist.lower() in requires, f"{parent} does not require {dist}"


def library_sources(library: Path) -> list[str]:
    """Every module of the library projects, passed to mypy explicitly.

    Library/ is on site-packages through scripts/setup_env.sh's .pth, so when mypy reaches `skeleton` or
    `models` by import it treats them as installed packages and reports nothing inside them: a typo in the
    skeleton (where most LEAN calls live) would pass. Files named on the command line are always checked.
    """
    return sorted(str(p) for p in library.rglob("*.py") if "__pycache__" not in p.parts)


def _mypy(main: Path, library: Path = ROOT / "Library") -> tuple[str, int]:
    os.environ["MYPYPATH"] = str(library)
    out, err, status = mypy_api.run([str(main), *library_sources(library), "--ignore-missing-imports",
                                     "--cache-dir", str(ROOT / ".mypy_cache"), "--no-error-summary"])
    return out + err, status


@pytest.mark.parametrize("project", sorted(p.name for p in (ROOT / "algorithms").iterdir() if (p / "main.py").exists()))
def test_algorithms_type_check_against_quantconnect_stubs(project):
    output, status = _mypy(ROOT / "algorithms" / project / "main.py")
    assert status == 0, output


def test_type_check_catches_members_lean_lacks(tmp_path):
    main = tmp_path / "main.py"
    main.write_text("from AlgorithmImports import *\n\n\nclass Bad(QCAlgorithm):\n"
                    "    def initialize(self) -> None:\n        self.set_holdingz('SPY', 1.0)\n"
                    "        self.set_cash('lots')\n")
    output, status = _mypy(main)
    assert status == 1 and "set_holdingz" in output and "set_cash" in output


def test_type_check_reaches_into_the_skeleton(tmp_path):
    """The audit's example: a typo in the skeleton's LEAN call must fail the check, not pass silently."""
    library = tmp_path / "Library"
    shutil.copytree(ROOT / "Library", library, ignore=shutil.ignore_patterns("__pycache__"))
    skeleton = library / "skeleton" / "top100.py"
    text = skeleton.read_text()
    assert "self.settings.seed_initial_prices = True" in text
    skeleton.write_text(text.replace("self.settings.seed_initial_prices = True", "self.settings.seed_initial_pricez = True"))
    output, status = _mypy(ROOT / "algorithms" / "top100_baseline" / "main.py", library)
    assert status == 1 and "seed_initial_pricez" in output, output


def test_gpu_dockerfile_pins_the_lean_release_of_our_package_list():
    """Dockerfile.gpu adds weights only: every package already comes from the pinned LEAN image."""
    text = (ROOT / "Dockerfile.gpu").read_text()
    commit = next(line for line in (ROOT / "lean_image" / "foundation-packages.txt").read_text().splitlines()
                  if line.startswith("# source:")).split("/blob/")[1][:8]
    assert "ARG LEAN_TAG=18019" in text and "FROM quantconnect/lean:${LEAN_TAG}" in text
    assert f"QuantConnect/Lean@{commit}" in text  # release 18019 is that commit (git tag in QuantConnect/Lean)
    assert "pip install" not in text and "latest" not in text
    assert "HF_HUB_OFFLINE=1" in text


def test_gpu_image_holds_every_checkpoint_the_default_configs_load():
    """Offline in the image: each algorithm whose config.json defaults to pretrained weights must find its
    model_id (the exact hub id: the cache is keyed by it) among the ones Dockerfile.gpu downloads."""
    text = (ROOT / "Dockerfile.gpu").read_text()
    baked = set(text.split('ARG HF_MODELS="')[1].split('"')[0].split())
    needed = {}
    for config in (ROOT / "algorithms").glob("*/config.json"):
        parameters = json.loads(config.read_text()).get("parameters", {})
        if parameters.get("weights") == "pretrained":
            needed[config.parent.name] = parameters["model_id"]
    assert set(needed) == {"perl_portfolio", "llm4fts_ranker"}
    assert {name: model for name, model in needed.items() if model not in baked} == {}
