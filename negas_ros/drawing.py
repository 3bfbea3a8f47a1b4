"""Annotated frames for the debug image and the demo (pure: cv2 + numpy)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from negas_ros.detection import Detection

__all__ = ['draw_detections']

_ID_COLOUR_BGR = (80, 200, 60)
_UNKNOWN_COLOUR_BGR = (255, 0, 255)  # magenta: unlike any ID colour, visible on road scenes


def draw_detections(
    image_bgr: npt.NDArray[np.uint8], detections: Sequence[Detection], unknown_label: str
) -> npt.NDArray[np.uint8]:
    """Return a copy of image_bgr with boxes and labels; unknowns get thick magenta boxes."""
    import cv2

    canvas = image_bgr.copy()
    scale = max(0.4, min(canvas.shape[:2]) / 900.0)
    for det in detections:
        x1, y1, x2, y2 = (round(v) for v in det.box_xyxy)
        if det.is_ood:
            colour, thickness = _UNKNOWN_COLOUR_BGR, 3
            text = f'{unknown_label.upper()} {det.ood_confidence:.2f} (~{det.id_label})'
        else:
            colour, thickness = _ID_COLOUR_BGR, 2
            text = f'{det.id_label} {det.id_confidence:.2f}'
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thickness)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        ty = max(y1, th + base)
        tx = max(0, min(x1, canvas.shape[1] - tw))  # keep the label inside the frame
        cv2.rectangle(canvas, (tx, ty - th - base), (tx + tw, ty), colour, -1)
        cv2.putText(canvas, text, (tx, ty - base), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return canvas
