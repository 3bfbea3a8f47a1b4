"""YOLO-World v2 backend with NegA (``backend: yolo_world``): our own implementation.

Importing this package registers the backend and imports neither torch nor transformers; they
are imported when a backend is built. Written from the published architecture (YOLO-World,
Cheng et al., CVPR 2024, and the released checkpoints' tensor names); no code from the GPL
(official) or AGPL (ultralytics) implementations. Tensor names and shapes match the released
``yolov8{s,m,l,x}-worldv2.pt`` so those weights load one to one.

Modules
    config      sizes of s, m, l, x and the test-only tiny network (pure)
    network     backbone, text-guided neck with NegA, BN contrastive head, DFL decoding (torch)
    postprocess letterbox and its exact inverse, confidence filter, NMS in torch
    text        CLIP text tower and the offline vocabulary file (.npz)
    checkpoint  reading weights files without running pickled code; strict key/shape loading
    backend     :class:`YoloWorldBackend`, the :class:`~negas_ros.backends.base.DetectorBackend`
    export      ONNX export with baked-in embeddings and the onnxruntime parity check
    tensorrt    optional TensorRT engine build and runtime (not verified on this project's CI)
    tiny        a tiny random-weight model directory for tests and demos

The ``model`` parameter (what :func:`load_model_card` accepts)
    - a directory holding ``yolo_world.yaml`` (a model card), or a card ``.yaml`` itself::

          weights: yolov8s-worldv2.pt      # required; paths are relative to the card
          text_model: openai/clip-vit-base-patch32   # hub id or directory; null: never load
          text_projection: null            # sentence encoders: learned projection (.npz)
          text_embeddings: vocabulary.npz  # optional offline vocabulary, looked up first
          imgsz: 640                       # or [height, width], multiples of 32
          nega_fusion: max                 # NegA rule when nega is on (config.NEGA_FUSIONS)
          nega_weight: 0.5                 # w of 'weighted' and 'gate'
          iou_threshold: 0.7               # NMS
          max_det: 300
          fuse: true                       # fold BatchNorm into the convs
          tensorrt_engine: null            # engine from `negas-ros export --engine` (CUDA)

      ``text_model`` defaults to ``openai/clip-vit-base-patch32``, except when the card gives
      ``text_embeddings`` without ``text_model``: then the robot runs from the file alone and an
      unknown label is an error naming the missing labels.
    - a checkpoint file (``.pt`` / ``.pth`` / ``.safetensors``), run with the defaults above.
    No size name is accepted: weights are never downloaded. The architecture (s, m, l, x or
    custom) is read from the checkpoint itself.

Design choices (ours; the NegAS paper publishes no formulas)

NegA rules (``nega_fusion``; a model card names its default, the node parameter overrides it)
    The max-sigmoid attention of each text-guided neck block takes the max similarity over the
    texts it is given. 'max' puts the negatives into that max (what YOLO-World computes when the
    negatives are simply appended to the vocabulary); 'weighted' adds them with a weight,
    a = min(1, a_id + w a_neg), so a region that looks like a negative is enhanced a little
    instead of suppressed as background, without letting the negatives take over the ID
    attention; 'gate' damps the ID attention where negatives match, a_id (1 - w a_neg); the
    branch rules ('branch', 'branch_union', 'branch_contrast') leave the ID outputs exactly
    those of the plain detector and compute the negative logits from a second neck pass that
    the negatives guide. All are inference-time rules: they work on released checkpoints as
    they are. 'off' (negatives excluded from the attention; ID outputs bit-for-bit those of the
    ID labels alone) is the control, also selected by node parameter ``nega: false``.
    Which rule and weight a card names is a measured choice: for the embedded ``negas_mini``,
    'weighted' with w = 0.25 won on the world's validation splits (docs/choices.md): 'max'
    and the branch rules moved the mean near / near_unseen FPR95 by less than half a point,
    'gate' and larger weights cost more than 0.5 ID mAP points; on the test splits the
    winner's gain did not hold (docs/results.md). A released YOLO-World checkpoint was never
    measured here (no OOD validation data for real images in this repository); its card
    default stays 'max', the rule closest to how YOLO-World was trained, until a user measures
    their own.

Head and scores
    ID and negative logits come from one forward with the same class embeddings and formula.
    Confidence filter and NMS use the ID logits only. Negative logits are computed for the boxes
    that survive NMS only (exactly the same numbers as computing them everywhere, without the
    (anchors x M) product: 8400 x 1000 x 512 MACs at 640 px would cost more than the neck).

Checkpoints
    Released ``.pt`` files are pickles of ultralytics classes. We never unpickle them with
    torch's full unpickler: a restricted unpickler rebuilds tensors from the archive and turns
    every other global into an inert stand-in, then walks the pickled module tree for the
    parameters and buffers (module :mod:`.checkpoint`). Keys and shapes are checked strictly.
"""

from negas_ros.backends.yolo_world.backend import (
    MODEL_CARD_NAME,
    ModelCard,
    YoloWorldBackend,
    load_model_card,
)
from negas_ros.backends.yolo_world.config import (
    VARIANTS,
    YoloWorldConfig,
    config_for_variant,
    config_from_shapes,
)
from negas_ros.backends.yolo_world.text import (
    DEFAULT_TEXT_MODEL,
    TextEmbedder,
    TextEmbeddingTable,
    load_text_embeddings,
    save_text_embeddings,
)

__all__ = [
    'DEFAULT_TEXT_MODEL',
    'MODEL_CARD_NAME',
    'VARIANTS',
    'ModelCard',
    'TextEmbedder',
    'TextEmbeddingTable',
    'YoloWorldBackend',
    'YoloWorldConfig',
    'config_for_variant',
    'config_from_shapes',
    'from_spec',
    'load_model_card',
    'load_text_embeddings',
    'save_text_embeddings',
]

# The factory create_backend('yolo_world', spec) calls (base.BACKEND_MODULES).
from_spec = YoloWorldBackend.from_spec
