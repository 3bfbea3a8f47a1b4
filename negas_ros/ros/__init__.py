"""Thin ROS 2 glue: the detector node and message conversions (imports rclpy)."""
