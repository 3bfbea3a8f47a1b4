# Enter the negas_ros development environment: `source scripts/env.sh` (bash or zsh).
# Makes rclpy, vision_msgs, negas_ros.msg and `detector_node` usable from any directory.
# Run `make setup` first (make test and make demo do it for you).
_negas_root=$(cd "$(dirname "${BASH_SOURCE[0]:-${(%):-%x}}")/.." && pwd)
_negas_venv="$_negas_root/.venv"
_negas_install="$_negas_root/.cache/ros/install"
if [ ! -x "$_negas_venv/bin/python" ] || [ ! -d "$_negas_install/negas_ros" ]; then
  echo "negas_ros: environment not built; run 'make setup' in $_negas_root" >&2
  return 1 2>/dev/null || exit 1
fi
_negas_py=$("$_negas_venv/bin/python" -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}")')
export VIRTUAL_ENV="$_negas_venv"
export NEGAS_ROS_ROOT="$_negas_root"
export PATH="$_negas_install/negas_ros/bin:$_negas_install/negas_ros/lib/negas_ros:$_negas_venv/bin:$PATH"
_negas_prefixes="$_negas_install/negas_ros"
[ -d "$_negas_install/vision_msgs" ] && _negas_prefixes="$_negas_prefixes:$_negas_install/vision_msgs"
export AMENT_PREFIX_PATH="$_negas_prefixes:$_negas_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
_negas_pythonpath="$_negas_root"
_negas_libpath=""
for _p in ${_negas_prefixes//:/ }; do
  _negas_pythonpath="$_negas_pythonpath:$_p/lib/$_negas_py/site-packages"
  _negas_libpath="${_negas_libpath:+$_negas_libpath:}$_p/lib"
done
# The sources come first so edits need no rebuild; negas_ros.msg is found in the install tree.
export PYTHONPATH="$_negas_pythonpath${PYTHONPATH:+:$PYTHONPATH}"
export LD_LIBRARY_PATH="$_negas_libpath:$_negas_venv/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# Camera-sized best-effort images are lost between processes with Fast DDS's default transports;
# this profile gives shared memory a 32 MB segment (README, "Large images and Fast DDS").
export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$_negas_root/config/fastdds_shm.xml}"
unset _negas_root _negas_venv _negas_install _negas_py _negas_prefixes _negas_pythonpath \
  _negas_libpath _p
