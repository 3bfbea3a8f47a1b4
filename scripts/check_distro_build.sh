#!/usr/bin/env bash
# Builds negas_ros (and the fallback vision_msgs) with colcon against another ROS 2 distro's
# PyPI wheels in a scratch venv, then imports the installed package. A check of the CMake and
# package.xml against that distro, not part of `make test` (it downloads ~100 wheels).
#   scripts/check_distro_build.sh jazzy [WORKDIR]
# Only distros with wheels on PyPI can be checked (kilted: unprefixed, jazzy: ros-jazzy-*);
# Humble has none, so it is checked only in a real workspace.
set -euo pipefail
distro=${1:?usage: $0 jazzy|kilted [WORKDIR]}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${2:-/tmp/negas_distro_$distro}
prefix=$([ "$distro" = kilted ] && echo ros- || echo "ros-$distro-")
rm -rf "$work" && mkdir -p "$work/src"
python3.11 -m venv "$work/venv"
venv="$work/venv"
grep '^ros-' "$root/requirements/ros-kilted.txt" | sed "s/^ros-/$prefix/" \
  | grep -v 'ament-cmake-ros-core' > "$work/req.txt"
printf '%s\n' catkin-pkg colcon-common-extensions numpy "${prefix}ament-cmake-gmock" \
  "${prefix}ament-cmake-gtest" >> "$work/req.txt"
"$venv/bin/pip" install -q -r "$work/req.txt" 2> >(grep -v '^WARNING: Location' >&2)
py_include=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_include=$("$venv/bin/python" -c 'import numpy; print(numpy.get_include())')
grep -rlZ '/opt/python/cp311-cp311/include\|numpy/_core/include' "$venv/share" | xargs -0 -r \
  sed -i -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_include#g" \
         -e "s#/opt/python/cp311-cp311/include/python3.11#$py_include#g"
cp -r "$root/interfaces/vision_msgs" "$work/src/vision_msgs" && rm "$work/src/vision_msgs/COLCON_IGNORE"
mkdir "$work/src/negas_ros"
(cd "$root" && cp -r package.xml CMakeLists.txt msg negas_ros scripts launch config rviz \
  "$work/src/negas_ros/")
cd "$work"
PATH="$venv/bin:$PATH" AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv" colcon build \
  --base-paths src --cmake-args -DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=OFF \
  --event-handlers console_cohesion- > build.log 2>&1 || { tail -40 build.log; exit 1; }
site=lib/python3.11/site-packages
cd / && AMENT_PREFIX_PATH="$work/install/negas_ros:$work/install/vision_msgs:$venv" \
  PYTHONPATH="$work/install/negas_ros/$site:$work/install/vision_msgs/$site" \
  LD_LIBRARY_PATH="$work/install/negas_ros/lib:$work/install/vision_msgs/lib:$venv/lib" \
  "$venv/bin/python" -c "
import negas_ros.msg, negas_ros.config, vision_msgs.msg
assert negas_ros.__file__.startswith('$work/install'), negas_ros.__file__
print('negas_ros builds and imports against $distro:', negas_ros.msg.OodDetectionArray.__name__)"
test -x "$work/install/negas_ros/lib/negas_ros/detector_node"
test -x "$work/install/negas_ros/bin/negas-ros"
echo "ok: $distro"
