# Sourced by the eval/*.sh queues: run from the repository root, offline (models from the local packages and
# cache), data from ../shared/data unless RETRIEVER_DATA_HOME says otherwise, and the code of this tree first on
# the path (a frozen copy of the code may run a queue while the tree changes). Sets PY and RETRIEVER.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export HF_HUB_OFFLINE=1
export RETRIEVER_DATA_HOME="${RETRIEVER_DATA_HOME:-$PWD/../shared/data}"
export PYTHONPATH="$PWD"
PY=.venv/bin/python
RETRIEVER=.venv/bin/retriever
