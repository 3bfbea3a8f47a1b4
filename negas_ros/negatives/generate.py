"""The three generation methods behind ``negas-ros negatives generate``.

Each returns a :class:`GenerationResult`: the negatives grouped by ID label, one
:class:`~negas_ros.negatives.filtering.Decision` per candidate looked at, and the provenance
mapping written into the labels YAML. All three pass every candidate through the same
:class:`~negas_ros.negatives.filtering.NegativeFilter`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import hashlib
import logging
import random

from negas_ros.negatives.filtering import Decision, NegativeFilter
from negas_ros.negatives.llm import (
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    USER_PROMPT,
    LLMClient,
    LLMError,
    redact_url,
)
from negas_ros.negatives.mining import (
    DEFAULT_LEXNAMES,
    Band,
    Similarity,
    candidate_pool,
    mine_negatives,
)
from negas_ros.negatives.output import generation_date

__all__ = ['GenerationResult', 'generate_llm', 'generate_random', 'generate_wordnet']

_LOG = logging.getLogger(__name__)


@dataclass
class GenerationResult:
    """Negatives grouped by ID label (key None for ungrouped ones), decisions, provenance."""

    id_labels: tuple[str, ...]
    by_id_label: dict[str | None, list[str]]
    decisions: list[Decision]
    provenance: dict[str, object] = field(default_factory=dict)

    @property
    def negatives(self) -> list[str]:
        """All negatives in output order (ID label order, then ungrouped ones)."""
        order: list[str | None] = [*self.id_labels, None]
        return [n for key in order for n in self.by_id_label.get(key, [])]


def _filter_parameters(nfilter: NegativeFilter) -> dict[str, object]:
    return {
        'max_words': nfilter.max_words,
        'max_chars': nfilter.max_chars,
        'allow_shared_words': nfilter.allow_shared_words,
        'keep_unknown': nfilter.keep_unknown,
    }


def _base_provenance(method: str, nfilter: NegativeFilter) -> dict[str, object]:
    return {
        'method': method,
        'tool': 'negas-ros negatives generate',
        'date': generation_date(),
        'wordnet': f'WordNet {nfilter.wordnet.version} (filter)',
    }


def generate_llm(
    id_labels: tuple[str, ...],
    client: LLMClient,
    nfilter: NegativeFilter,
    count: int,
    ask: int | None = None,
) -> GenerationResult:
    """Ask the LLM for each ID label, filter, keep up to ``count`` per label.

    ask: how many to request per label (default 2 * count: some are filtered out).
    Raises LLMError naming every label that got no usable answer (answers already obtained
    stay in the cache, so a rerun asks only for the failed ones).
    """
    if count < 1:
        raise ValueError(f'--count must be >= 1, got {count}')
    ask = ask or 2 * count
    proposals: list[tuple[str, str | None, float | None]] = []
    failed: list[str] = []
    cached = 0
    incomplete: list[str] = []
    for label in id_labels:
        try:
            answer = client.ask(label, id_labels, ask)
        except LLMError as error:
            if error.refused:
                raise  # refused (bad key, model or URL): every label would fail alike
            _LOG.error('%s', error)
            failed.append(label)
            continue
        cached += answer.cached
        if not answer.complete:
            incomplete.append(label)
        proposals += [(item, label, None) for item in answer.items]
    _LOG.info('%d of %d answers from the cache', cached, len(id_labels))
    if failed:
        raise LLMError(
            f'no usable answer for {len(failed)} ID label(s): {", ".join(failed)}; the other '
            'answers are cached when --cache is given, rerun to retry only these'
        )
    _, decisions = nfilter.select(proposals, per_source=count)
    by_id: dict[str | None, list[str]] = {label: [] for label in id_labels}
    for decision in decisions:
        if decision.kept:
            by_id[decision.source].append(decision.label)
    prompt_hash = hashlib.sha256((SYSTEM_PROMPT + '\n' + USER_PROMPT).encode()).hexdigest()
    provenance = _base_provenance('llm', nfilter)
    provenance.update(
        {
            'model': client.model,
            'endpoint': redact_url(client.url),
            'prompt': f'{PROMPT_VERSION} (sha256 {prompt_hash[:16]})',
            'parameters': {
                'count': count,
                'asked_per_label': ask,
                'temperature': client.temperature,
                **_filter_parameters(nfilter),
            },
            # Not how many came from the cache: a rerun from the cache writes the same bytes.
            'incomplete_answers': incomplete,
        }
    )
    return GenerationResult(id_labels, by_id, decisions, provenance)


def generate_wordnet(
    id_labels: tuple[str, ...],
    nfilter: NegativeFilter,
    similarity: Similarity,
    count: int,
    *,
    band: Band | None = None,
    senses: Mapping[str, tuple[int, ...]] | None = None,
    lexnames: tuple[str, ...] = DEFAULT_LEXNAMES,
    max_words: int = 2,
) -> GenerationResult:
    """Mine WordNet and rank with ``similarity`` (rule in :mod:`negas_ros.negatives.mining`)."""
    band = band or Band()
    wn = nfilter.wordnet
    pool = candidate_pool(wn, lexnames, max_words=max_words, max_chars=nfilter.max_chars)
    result = mine_negatives(pool, nfilter, similarity, count, band)
    for label in result.unranked_id_labels:
        _LOG.warning(
            'ID label %r: no candidate could be scored against it (no WordNet sense to rank '
            'against, or none shares a specific enough hypernym); see --id-sense',
            label,
        )
    empty = [label for label, found in result.by_id_label.items() if not found]
    if empty:
        _LOG.warning('no negatives found near: %s', ', '.join(empty))
    provenance = _base_provenance('wordnet', nfilter)
    provenance['wordnet'] = f'WordNet {wn.version}'
    provenance['ranking'] = similarity.description
    parameters: dict[str, object] = {
        'count': count,
        'pool': {'lexnames': list(lexnames), 'max_words': max_words, 'size': len(pool)},
        'band': {
            'floor': band.floor if band.floor is not None else f'quantile {band.floor_quantile}',
            'ceiling': (
                band.ceiling if band.ceiling is not None else f'quantile {band.ceiling_quantile}'
            ),
        },
        **_filter_parameters(nfilter),
    }
    if senses is not None:
        parameters['ranking_senses'] = {
            label: ', '.join(wn.name(s) for s in found) or None for label, found in senses.items()
        }
    provenance['parameters'] = parameters
    by_id: dict[str | None, list[str]] = dict(result.by_id_label.items())
    return GenerationResult(id_labels, by_id, result.decisions, provenance)


def generate_random(
    id_labels: tuple[str, ...],
    nfilter: NegativeFilter,
    count: int,
    seed: int = 0,
    lexnames: tuple[str, ...] = DEFAULT_LEXNAMES,
    max_words: int = 2,
) -> GenerationResult:
    """``count * len(id_labels)`` random WordNet object nouns (same pool as the miner, seeded,
    no ranking), filtered like the others: the ablation baseline for negative-label quality."""
    if count < 1:
        raise ValueError(f'--count must be >= 1, got {count}')
    wn = nfilter.wordnet
    pool = candidate_pool(wn, lexnames, max_words=max_words, max_chars=nfilter.max_chars)
    rng = random.Random(seed)
    order = rng.sample(range(len(pool)), len(pool))
    total = count * len(id_labels)
    kept, decisions = nfilter.select(
        ((pool[i].label, None, None) for i in order), total=total, stop_when_full=True
    )
    provenance = _base_provenance('random', nfilter)
    provenance['wordnet'] = f'WordNet {wn.version}'
    provenance['parameters'] = {
        'count': count,
        'total': total,
        'seed': seed,
        'pool': {'lexnames': list(lexnames), 'max_words': max_words, 'size': len(pool)},
        **_filter_parameters(nfilter),
    }
    return GenerationResult(id_labels, {None: kept}, decisions, provenance)
