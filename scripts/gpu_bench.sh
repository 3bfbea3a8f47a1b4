#!/usr/bin/env bash
# Prepared GPU benchmark (scripts/gpu_bench.py) from the source tree: needs only torch + transformers.
PYTHONPATH="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)${PYTHONPATH:+:$PYTHONPATH}" exec python3 "$(dirname "${BASH_SOURCE[0]}")/gpu_bench.py" "$@"
