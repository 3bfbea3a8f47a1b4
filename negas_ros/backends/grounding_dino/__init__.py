"""Grounding DINO backend: transformers ``GroundingDinoForObjectDetection`` with NegA passes.

Importing this package registers the backend as ``'grounding_dino'`` and imports neither torch nor
transformers; they are imported when a backend is built.

Design choices (ours: the NegAS paper gives no Grounding DINO details)

Prompt and per-label logits
    A pass's prompt is ``'[CLS] car . person . traffic light . [SEP]'``: labels are lowercased and
    stripped, each followed by ``.``. Labels are tokenised one by one and concatenated, so each
    label's token span is known exactly (the concatenation is checked against the tokenizer on
    the whole prompt). The model outputs one logit per token, (B, Q, 256); a label's logit is
    the max over its own tokens (max of sigmoids == sigmoid of the max logit, sigmoid being
    monotone). This is per label; transformers' ``post_process_grounded_object_detection``
    instead scores a box by the max over all prompt tokens, [CLS], [SEP] and '.' included, and
    then names the phrase, so its box score can differ from our best label's score.

Passes (the 256-token limit) and how they merge
    Labels are packed in order into passes of at most ``max_text_tokens`` tokens (default: the
    model's ``max_text_len``, 256). With NegA on, every pass holds all ID labels first and then
    as many negatives as fit. Merge rule (ours), chosen so that a box's ID score does not grow
    with the number of passes, i.e. with the number of negatives:

    - the anchor is pass 0 (NegA on: ID labels + the first negatives; NegA off: the ID labels
      alone). Candidates are the anchor's queries, with the anchor's boxes, in query order;
      other passes never add boxes, so there are no cross-pass duplicates to remove, and, as in
      plain Grounding DINO (a DETR-style set predictor), there is no NMS within a pass;
    - each candidate is read in every other pass at that pass's query with the highest IoU to
      the candidate's box;
    - ID logits (``id_merge='mean'``, default): the mean over the anchor and every other ID pass
      whose best query overlaps the box with IoU >= ``match_iou`` (0.5) - a mean, never a max,
      so more passes do not lift the score. ``id_merge='anchor'`` keeps the anchor's logits;
    - a candidate is kept when its merged best ID sigmoid >= box_threshold;
    - a negative of another pass is read at that pass's best-IoU query whatever the IoU, and
      where no query of that pass overlaps the box, at the query with the nearest centre: the
      pass's own response nearest the box, so every negative can lower NegS. ``floor_logit``
      (-20) is left only for a pass without any query (never with a real model).

    The merge is vectorised: float32 IoU blocks between the candidates and each other pass's
    queries, pruned by a sweep on x (13 passes x 900 queries: see docs/benchmarks.md).

NegA off
    The ID detections and ID logits are exactly those of the ID-only prompt: the ID-only pass
    runs alone (batch of one, as an ID-only backend runs it) and is the anchor; the negatives
    are packed into negative-only passes and read by the rule above.

Caching
    Text encodings are computed once per :meth:`GroundingDinoBackend.set_labels`: the BERT text
    backbone runs there, once per forward group, and its output is cached. The model's
    ``text_backbone`` is replaced by a small module that returns the cached output when it is
    called with the cached ``input_ids`` (falling through to BERT otherwise), so the per-frame
    forward never re-runs BERT. Passes are batched (``passes_per_forward`` rows, the same image
    in every row) and the image backbone (Swin) runs once per frame: on the first row of the
    first forward group, its features kept for the frame and shared by every row and group.

Precision and failures
    ``half=True`` (CUDA) runs the model in fp16 except the deformable-attention sampling
    (grid_sample), which stays in fp32. NaN or inf logits or boxes raise
    :class:`~negas_ros.backends.base.NonFiniteOutputError` (never an empty result).

Preprocessing
    The checkpoint's ``preprocessor_config.json`` is read (resize rule, rescale, mean/std) and
    applied with torch on the model's device: antialiased resize as torchvision does in the
    transformers image processor, rounded to integer levels as its uint8 path, then rescale and
    normalise. No padding (one image per forward). Own code rather than the processor object
    because the processor needs torchvision or Pillow, which this package does not depend on;
    where one is installed, a test checks that the pixel values agree within one 8-bit level.
    Predicted boxes are normalised to the unpadded resized image, so they scale to the source
    image by its width and height.

Modules
    :mod:`.prompts` prompt text and pass planning; :mod:`.aggregation` the pass merge (numpy);
    :mod:`.groups` passes batched into forwards; :mod:`.processor` the image preprocessing
    (:class:`GroundingDinoImageProcessor`); :mod:`.patches` the torch wrappers around
    transformers internals; :mod:`.backend` :class:`GroundingDinoBackend`.
"""

from __future__ import annotations

from negas_ros.backends.grounding_dino.aggregation import (
    DEFAULT_FLOOR_LOGIT,
    DEFAULT_ID_MERGE,
    DEFAULT_MATCH_IOU,
    ID_MERGES,
    PassOutput,
    aggregate_passes,
    box_iou,
)
from negas_ros.backends.grounding_dino.backend import (
    DEFAULT_PASSES_PER_FORWARD,
    SPEC_OPTIONS,
    GroundingDinoBackend,
)
from negas_ros.backends.grounding_dino.patches import keep_sampling_in_fp32
from negas_ros.backends.grounding_dino.processor import GroundingDinoImageProcessor
from negas_ros.backends.grounding_dino.prompts import (
    build_prompt,
    label_token_spans,
    normalize_label,
    plan_passes,
)

__all__ = [
    'DEFAULT_FLOOR_LOGIT',
    'DEFAULT_ID_MERGE',
    'DEFAULT_MATCH_IOU',
    'DEFAULT_PASSES_PER_FORWARD',
    'ID_MERGES',
    'SPEC_OPTIONS',
    'GroundingDinoBackend',
    'GroundingDinoImageProcessor',
    'PassOutput',
    'aggregate_passes',
    'box_iou',
    'build_prompt',
    'from_spec',
    'keep_sampling_in_fp32',
    'label_token_spans',
    'normalize_label',
    'plan_passes',
]

# The factory create_backend('grounding_dino', spec) calls (base.BACKEND_MODULES).
from_spec = GroundingDinoBackend.from_spec
