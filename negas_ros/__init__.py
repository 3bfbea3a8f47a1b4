"""negas_ros: open-vocabulary detection with NegAS out-of-distribution flags for ROS 2.

The top-level package is the pure core: it never imports rclpy or message packages. ROS glue
lives in :mod:`negas_ros.ros`; model backends in :mod:`negas_ros.backends` import torch lazily.
"""

from pkgutil import extend_path

# In a development tree the sources come first on sys.path while the generated message
# modules (negas_ros.msg) live in the colcon install tree: let one package span both.
__path__ = extend_path(__path__, __name__)

# package.xml holds the version (ROS reads it there); pyproject.toml reads this line, and
# test/unit/test_version.py checks that it matches package.xml. Change both together.
__version__ = '0.1.0'
