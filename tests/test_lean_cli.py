"""What lean-cli needs from this folder before LEAN even starts, and what the cloud receives.

The cloud case is tested the way it fails: each algorithm is copied with its libraries keeping only the
file types `lean cloud push` sends, and its first rebalance runs from that copy in a fresh interpreter
that cannot see the repository's own Library/.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lean_local.cli import main as cli_main
from lean_local.data.synthetic import write_synthetic_market
from lean_local.lean_cli import copy_as_pushed, organization_id, parse_lean_json, pushed_files

ROOT = Path(__file__).resolve().parents[1]
ORG = "5cad178b20a1d52567b534553413b691"
FIRST_REBALANCE = {  # tiny settings: the point is that initialize and the first rebalance run at all
    "top100_baseline": {},
    "spy_buy_and_hold": {},
    "perl_portfolio": {"model_id": "amazon/chronos-t5-tiny", "weights": "random", "seed": "3"},
    "llm4fts_ranker": {"model_id": "gpt2", "weights": "random", "seed": "3", "gpt_layers": "1", "gpt_width": "32",
                       "gpt_heads": "2", "pretrain_days": "200", "pretrain_steps": "2"},
    "inverse_volatility": {},
    "minimum_variance": {},
    "hierarchical_risk_parity": {},
    "momentum_12_1": {},
}


def test_the_committed_lean_json_lacks_an_organization_so_lean_cli_would_stop():
    # lean-cli organization_manager.py L55-69: no organization id -> RuntimeError before LEAN starts.
    assert organization_id(parse_lean_json((ROOT / "lean.json").read_text())) is None


def test_organization_command_writes_what_lean_cli_reads(tmp_path, monkeypatch):
    (tmp_path / "lean.json").write_text((ROOT / "lean.json").read_text())
    (tmp_path / "algorithms").mkdir()
    monkeypatch.chdir(tmp_path / "algorithms")  # found upward, like lean-cli
    assert cli_main(["organization", ORG]) == 0
    config = json.loads((tmp_path / "lean.json").read_text())  # plain JSON now, whatever parser reads it
    assert config["job-organization-id"] == config["organization-id"] == ORG
    assert config["data-folder"] == "data"
    assert organization_id(config) == ORG


def test_organization_command_refuses_a_malformed_id_and_keeps_the_file(tmp_path, monkeypatch, capsys):
    original = (ROOT / "lean.json").read_text()
    (tmp_path / "lean.json").write_text(original)
    monkeypatch.chdir(tmp_path)
    assert cli_main(["organization", "my-org"]) == 2
    assert "32 hexadecimal digits" in capsys.readouterr().err
    assert (tmp_path / "lean.json").read_text() == original


def test_cloud_files_refuses_a_file_as_its_folder_in_one_line(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert cli_main(["cloud-files", str(ROOT / "algorithms" / "top100_baseline"), "--out", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err


def test_lean_json_comments_are_stripped_but_urls_kept():
    text = '{\n  // the root\n  "api-url": "https://www.quantconnect.com/api/v2/", /* x */ "data-folder": "data"\n}'
    assert parse_lean_json(text) == {"api-url": "https://www.quantconnect.com/api/v2/", "data-folder": "data"}


def test_push_rule_keeps_only_source_types_and_skips_outputs(tmp_path):
    project = tmp_path / "p"
    for name in ["main.py", "notes.ipynb", "data.json", "w.safetensors", "backtests/x/main.py",
                 "storage/a.py", ".hidden/b.py", "sub/c.py", "sub/__pycache__/c.py"]:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("")
    assert [p.relative_to(project).as_posix() for p in pushed_files(project)] == ["main.py", "notes.ipynb", "sub/c.py"]


def test_nothing_read_at_run_time_is_a_file_type_the_push_drops():
    tracked = subprocess.run(["git", "ls-files", "Library", "algorithms", "research"], cwd=ROOT, text=True,
                             capture_output=True, check=True).stdout.split()
    dropped = [f for f in tracked if not f.endswith((".py", ".cs", ".ipynb", ".css", ".html"))
               and Path(f).name != "config.json"  # travels as project metadata
               and not f.startswith("research/results/")]  # written by scripts, never read by notebooks
    assert dropped == []
    for notebook in (ROOT / "research").glob("*.ipynb"):
        assert "results/" not in notebook.read_text(), notebook


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    write_synthetic_market(out, seed=5, start="2009-01-02", end="2010-03-31")
    return out


RUN_FROM_COPY = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    # The repository's Library/ is on sys.path through the venv's .pth; the cloud has only the copy.
    sys.path[:] = [p for p in sys.path if not p.rstrip("/").endswith("Library")]
    from lean_local.engine.runner import run_backtest
    copy, market, plan = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    for name, parameters in plan.items():
        result = run_backtest(copy / "algorithms" / name, data_dir=market, start="2010-01-01", end="2010-02-05",
                              parameters=parameters or None, progress=False, output=copy / "out" / name)
        import models
        assert Path(models.__file__).resolve().is_relative_to(copy.resolve()), models.__file__
        orders = [o for o in result.record.orders if o.status.name == "FILLED"]
        print(name, len(orders))
""")


def test_every_algorithm_runs_its_first_rebalance_from_what_the_cloud_receives(market, tmp_path):
    copy = tmp_path / "cloud"
    for name in FIRST_REBALANCE:
        copy_as_pushed(ROOT, ROOT / "algorithms" / name, copy)
    assert {p.name for p in copy.rglob("*.json")} == {"config.json", "lean.json"}
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", RUN_FROM_COPY, str(copy), str(market), json.dumps(FIRST_REBALANCE)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    filled = dict(line.split() for line in done.stdout.splitlines() if line.split()[0] in FIRST_REBALANCE)
    assert set(filled) == set(FIRST_REBALANCE) and all(int(n) > 0 for n in filled.values()), done.stdout
