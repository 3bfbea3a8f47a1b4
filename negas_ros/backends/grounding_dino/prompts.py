"""Prompt text and prompt passes: label normalisation, token spans and pass planning (pure)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ['build_prompt', 'label_token_spans', 'normalize_label', 'plan_passes']

_DELIMITERS = ('.', '?')  # phrase separators in transformers' Grounding DINO


def normalize_label(label: str) -> str:
    """Label text as it goes into the prompt: stripped, lowercased, inner whitespace single.

    Raises ValueError for an empty label or one holding a phrase delimiter ('.' or '?'), which
    would split it into two phrases.
    """
    text = ' '.join(label.strip().lower().split())
    if not text:
        raise ValueError(f'empty label {label!r}')
    if any(d in text for d in _DELIMITERS):
        raise ValueError(f"label {label!r} contains a phrase delimiter ('.' or '?')")
    return text


def build_prompt(labels: Sequence[str]) -> str:
    """Prompt text for labels: ``['car', 'traffic light'] -> 'car . traffic light .'``."""
    return ' '.join(f'{normalize_label(label)} .' for label in labels)


def label_token_spans(
    label_token_ids: Sequence[Sequence[int]], cls_id: int, sep_id: int, dot_id: int
) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of ``[CLS] l1 . l2 . ... [SEP]`` and each label's span.

    label_token_ids: per label, its word-piece ids without special tokens (non-empty).
    Returns (input_ids, spans) with ``input_ids[start:end]`` the tokens of label i for
    ``spans[i] == (start, end)``; len(input_ids) == 2 + sum(len(ids) + 1).
    """
    input_ids = [cls_id]
    spans: list[tuple[int, int]] = []
    for ids in label_token_ids:
        if not ids:
            raise ValueError('a label has no tokens')
        start = len(input_ids)
        input_ids.extend(ids)
        spans.append((start, len(input_ids)))
        input_ids.append(dot_id)
    input_ids.append(sep_id)
    return input_ids, spans


def _pack(costs: Sequence[int], room: int, what: str) -> list[list[int]]:
    """Greedy in-order packing of item indices into bins of total cost <= room."""
    bins: list[list[int]] = []
    used = room + 1  # forces a first bin
    for index, cost in enumerate(costs):
        if cost > room:
            raise ValueError(f'{what} {index} needs {cost} tokens; only {room} fit in a pass')
        if used + cost > room:
            bins.append([])
            used = 0
        bins[-1].append(index)
        used += cost
    return bins


def plan_passes(
    id_costs: Sequence[int], neg_costs: Sequence[int], max_tokens: int, nega: bool
) -> list[tuple[list[int], list[int]]]:
    """Split labels into prompt passes of at most ``max_tokens`` tokens each.

    A label's cost is its token count + 1 (its '.'); each pass also spends 2 on [CLS] and [SEP].
    Returns [(ID label indices, negative label indices)] per pass, indices in input order.
    nega=True: every pass holds all ID labels, negatives are packed into the room left (one pass
    with the ID labels alone when there are no negatives). nega=False: pass 0 holds the ID labels
    alone, then negative-only passes. Raises ValueError when the ID labels, or one negative
    label next to them, do not fit.
    """
    if not id_costs:
        raise ValueError('at least one ID label is needed')
    budget = max_tokens - 2
    id_total = sum(id_costs)
    if id_total > budget:
        raise ValueError(
            f'the ID labels need {id_total + 2} tokens, over the {max_tokens}-token prompt limit'
        )
    id_indices = list(range(len(id_costs)))
    if nega:
        if not neg_costs:
            return [(id_indices, [])]
        chunks = _pack(neg_costs, budget - id_total, 'negative label')
        return [(list(id_indices), chunk) for chunk in chunks]
    return [(id_indices, [])] + [
        ([], chunk) for chunk in _pack(neg_costs, budget, 'negative label')
    ]
