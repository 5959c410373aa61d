#!/usr/bin/env bash
# Creates .venv (when missing) with the LEAN image's package versions and the CPU build of torch.
# Idempotent: a second run only checks that the environment is complete.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"
stamp="$venv/.setup-complete"
want="$(cat requirements.txt scripts/setup_env.sh pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first and alone, pinned to the CPU build: with torch==2.13.0 already present no later
# requirement can pull the multi-GB CUDA wheel (the constraint below makes that an error, not a download).
quiet() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; return "${PIPESTATUS[0]}"; }
quiet "$py" -m pip install -q "torch==2.13.0"
if "$py" -c "import torch,sys; sys.exit(0 if torch.version.cuda is None else 1)" 2>/dev/null; then :; else
  echo "setup_env: torch is a CUDA build; this project needs the CPU build on CPU machines" >&2; exit 1
fi
quiet "$py" -m pip install -q -r requirements.txt -c scripts/constraints.txt
quiet "$py" -m pip install -q --no-deps -e .
# Like lean-cli's lean-cli.pth: Library/ importable (from models.x import y) and, for notebooks only,
# the local AlgorithmImports shim. LEAN never sees this file.
site="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
printf '%s\n%s\n' "$root/Library" "$root/lean_local/shim" > "$site/lean-local-project.pth"
echo "$want" > "$stamp"
