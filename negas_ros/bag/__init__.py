"""Rosbag2 tools: BDD100K to bag, bag playback, offline evaluation on bags and image folders.

Modules, each with one concern:

- :mod:`negas_ros.bag.bdd100k`: BDD100K images, videos and det_20 labels as a validated frame
  sequence, streamed (pure: numpy; OpenCV only for videos and decoding).
- :mod:`negas_ros.bag.messages`: a rosbags typestore with ``vision_msgs`` and ``negas_ros``
  messages, and message construction / parsing (pure: no rclpy).
- :mod:`negas_ros.bag.writer`: a rosbag2 writer that never leaves a half-written bag.
- :mod:`negas_ros.bag.reader`: camera frames (+ ground truth) streamed out of a bag.
- :mod:`negas_ros.bag.offline`: runs the detector pipeline over frame sources and writes
  metrics, plots and result bags (protocol in :mod:`negas_ros.evaluation`).
- :mod:`negas_ros.bag.plots`: the PNG plots (matplotlib, Agg).
- :mod:`negas_ros.bag.player`: publishes a bag into the live ROS graph (the only module here
  that imports rclpy).

Nothing is imported here, so ``import negas_ros.bag`` stays cheap and ROS-free.
"""

__all__: list[str] = []
