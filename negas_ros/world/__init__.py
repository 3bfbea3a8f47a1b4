"""A procedural street world for pretraining a mini open-vocabulary detector and for
benchmarking OOD object detection with exact ground truth (pure numpy + OpenCV, no downloads).

    from negas_ros.world import World
    scene = World(seed=0).render('ood_near', 12)          # (320, 320) by default
    scene.image          # (H, W, 3) uint8 RGB
    scene.frame_label    # BDD100K det_20 frame: name, attributes, timestamp, labels[]
    scene.instance_map   # (H, W) int32, 0 = background, k = scene.objects[k - 1]
    scene.objects        # SceneObject: id, category, box, visible_fraction, occluded, ...

Categories and their roles: :mod:`negas_ros.world.categories`; splits and why:
:mod:`negas_ros.world.splits`; writing a split to disk: :func:`export_split`, its videos:
:func:`export_videos`. Importing this package needs only numpy (OpenCV is imported when
something is drawn), never ROS or torch.
"""

from negas_ros.world.categories import (
    CATEGORIES,
    CATEGORY_BY_NAME,
    FAR_OOD,
    ID_LABELS,
    NEAR_OOD,
    PRETRAIN_VOCAB,
    TWINS,
    UNSEEN,
    UNSEEN_FAR_OOD,
    UNSEEN_NEAR_OOD,
    Category,
)
from negas_ros.world.export import export_split, export_videos, preview_sheet
from negas_ros.world.scene import DEFAULT_SIZE, Scene, SceneObject, World
from negas_ros.world.splits import SPLITS, VALIDATION_TWINS, SplitSpec

__all__ = [
    'CATEGORIES',
    'CATEGORY_BY_NAME',
    'DEFAULT_SIZE',
    'FAR_OOD',
    'ID_LABELS',
    'NEAR_OOD',
    'PRETRAIN_VOCAB',
    'SPLITS',
    'TWINS',
    'UNSEEN',
    'UNSEEN_FAR_OOD',
    'UNSEEN_NEAR_OOD',
    'VALIDATION_TWINS',
    'Category',
    'Scene',
    'SceneObject',
    'SplitSpec',
    'World',
    'export_split',
    'export_videos',
    'preview_sheet',
]
