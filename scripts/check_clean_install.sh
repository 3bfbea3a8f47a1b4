#!/usr/bin/env bash
# `pip install '.[tools]'` in a clean, throwaway venv (no ROS, nothing from .venv), then:
# `negas-ros --help`, every subcommand's --help (parsing must not import torch), and the pure
# tools end to end on a tiny generated input: world export -> bdd100k-to-bag -> evaluate (the
# embedded model on the CPU) -> negatives generate (when WordNet data is installed).
# CI runs it (.ci/run). Usage: scripts/check_clean_install.sh  (PYTHON=python3.11 by default)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python_bin=${PYTHON:-python3.11}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/negas-clean-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log() { printf '[clean-install] %s\n' "$*"; }
start=$SECONDS

# Build from a copy of the tracked and untracked-but-not-ignored files, so that the build
# (build/, *.egg-info) leaves the working tree alone and ignored files (.venv, .cache) stay out.
mkdir "$tmp/src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf -) | tar -xf - -C "$tmp/src"

log "creating a venv with $python_bin"
"$python_bin" -m venv "$tmp/venv"
# Only the clean venv: no PYTHONPATH, ROS prefix or sourced development environment.
unset PYTHONPATH AMENT_PREFIX_PATH CMAKE_PREFIX_PATH VIRTUAL_ENV NEGAS_ROS_ROOT
export PATH="$tmp/venv/bin:/usr/local/bin:/usr/bin:/bin"
pip=("$tmp/venv/bin/python" -m pip)

# torch==2.13.0 as requirements/ml.txt pins it: the CPU wheel (an unpinned torch would pull a
# multi-GB CUDA build); the extras leave the torch build to the user.
log "pip install '.[tools]' torch==2.13.0"
"${pip[@]}" install -q --disable-pip-version-check "$tmp/src[tools]" 'torch==2.13.0' \
  2> >(grep -v '^WARNING: Location' >&2)
"${pip[@]}" check
log "installed in $((SECONDS - start)) s"

cd "$tmp"   # not the source tree: the installed package must be the one imported
python - <<'PY'
import importlib.metadata as md
import negas_ros
print('negas-ros', md.version('negas-ros'), 'from', negas_ros.__file__)
assert md.version('negas-ros') == negas_ros.__version__
assert '/venv/' in negas_ros.__file__, negas_ros.__file__
PY

log 'negas-ros --help and every subcommand --help (no torch at parse time)'
negas-ros --help > /dev/null
python - <<'PY'
import argparse, subprocess, sys
from negas_ros.cli import build_parser

def paths(parser, prefix):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield [*prefix, name]
                yield from paths(sub, [*prefix, name])

for path in paths(build_parser(), []):
    out = subprocess.run(['negas-ros', *path, '--help'], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith('usage: negas-ros'), (path, out.stderr)
    print('  ok:', 'negas-ros', *path, '--help')
heavy = [m for m in ('torch', 'transformers', 'rclpy') if m in sys.modules]
assert not heavy, f'parsing imported {heavy}'
PY

log 'every tools module imports'
python - <<'PY'
import importlib
for name in ('torch', 'transformers', 'safetensors', 'rosbags', 'pycocotools.cocoeval',
             'matplotlib.pyplot', 'tqdm', 'onnx', 'onnxruntime', 'ijson',
             'negas_ros.evaluation', 'negas_ros.bag.reader', 'negas_ros.bag.writer',
             'negas_ros.bag.plots', 'negas_ros.benchmark.run',
             'negas_ros.backends.yolo_world.export', 'negas_ros.train.trainer'):
    importlib.import_module(name)
print('  ok')
PY

log 'end to end: world export -> bdd100k-to-bag -> evaluate'
# The rosbag tools read the .msg files that pyproject.toml installs into <venv>/share/<pkg>/msg
# (negas_ros.bag.messages.find_msg_dir looks under sys.prefix): no AMENT_PREFIX_PATH needed.
test -f "$tmp/venv/share/vision_msgs/msg/Detection2DArray.msg"
test -f "$tmp/venv/share/negas_ros/msg/OodDetectionArray.msg"
negas-ros world export --split id_test --count 4 --out id
negas-ros world export --split ood_far --count 4 --out far
negas-ros bdd100k-to-bag --images id/images --labels id/labels.json --out id_bag --no-progress
test -f id_bag/metadata.yaml
# A pip install has no ROS share directory: package:// paths in the parameters file are given
# as files (the installed package still resolves the embedded model by name).
negas-ros evaluate --params "$tmp/src/config/demo.yaml" \
  -p "labels_file:=$tmp/src/config/labels/world.yaml" \
  --id-bag id_bag --ood-images far=far/images --out eval --no-progress
python - <<'PY'
import json
metrics = json.load(open('eval/metrics.json'))
assert 0.0 <= metrics['map'] <= 1.0, metrics['map']
print('  mAP', round(metrics['map'], 4))
PY
test -s eval/precision_recall_id.png

wordnet=${NEGAS_WORDNET_DIR:-/usr/share/wordnet}
if [ -f "$wordnet/data.noun" ]; then
  log 'end to end: negatives generate --method random'
  printf 'car\npedestrian\nbus\n' > id.txt
  negas-ros negatives generate --method random --id-labels id.txt --count 2 --out negatives.yaml
  negas-ros negatives check negatives.yaml
else
  log "skipped negatives generate: no WordNet data in $wordnet (apt-get install wordnet-base)"
fi
log "passed in $((SECONDS - start)) s"
