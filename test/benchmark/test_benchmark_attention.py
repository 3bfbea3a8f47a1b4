"""Attention-overlap metric on hand-made maps (negas_ros.benchmark.attention)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from negas_ros.benchmark.attention import (
    OVERLAP_FIELDS,
    aggregate_overlaps,
    attention_overlap,
    cell_coverage,
    input_space_mask,
)


def _grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """4x4 cells: OOD on the top-left 2x2, ID on cell (3, 3), background elsewhere."""
    ood = np.zeros((4, 4))
    ood[:2, :2] = 1.0
    ids = np.zeros((4, 4))
    ids[3, 3] = 1.0
    return ood, ids, 1.0 - ood - ids


def test_overlap_by_hand() -> None:
    ood, ids, background = _grid()
    attention = np.full((4, 4), 0.5)
    attention[:2, :2] = 1.0
    result = attention_overlap(attention, ood, ids, background)
    # attention mass on OOD 4 * 1.0; everywhere 4 + 12 * 0.5 = 10
    assert result.mass_in_ood == pytest.approx(0.4)
    assert result.area_ood == pytest.approx(4 / 16)
    assert result.lift == pytest.approx(0.4 / 0.25)
    assert result.mean_in_ood == pytest.approx(1.0)
    assert result.mean_in_id == pytest.approx(0.5)
    assert result.mean_background == pytest.approx(0.5)
    assert result.contrast == pytest.approx(2.0)


def test_added_attention_share() -> None:
    ood, ids, background = _grid()
    base = np.full((4, 4), 0.5)
    fused = base.copy()
    fused[0, 0] = 0.9  # +0.4 on an OOD cell
    fused[3, 0] = 0.6  # +0.1 on a background cell
    fused[2, 2] = 0.4  # below the ID-only map: counts as 0
    result = attention_overlap(fused, ood, ids, background, base)
    assert result.added_in_ood == pytest.approx(0.4 / 0.5)
    assert math.isnan(attention_overlap(fused, ood, ids, background).added_in_ood)
    assert math.isnan(attention_overlap(base, ood, ids, background, base).added_in_ood)
    with pytest.raises(ValueError, match='differ'):
        attention_overlap(fused, ood, ids, background, np.ones((2, 2)))


def test_uniform_attention_is_chance_level() -> None:
    ood, ids, background = _grid()
    result = attention_overlap(np.full((4, 4), 0.3), ood, ids, background)
    assert result.mass_in_ood == pytest.approx(result.area_ood)
    assert result.lift == pytest.approx(1.0)
    assert result.contrast == pytest.approx(1.0)


def test_heads_are_averaged_and_partial_cells_weighted() -> None:
    ood = np.array([[0.5, 0.0]])
    ids = np.zeros((1, 2))
    background = np.array([[0.5, 1.0]])
    heads = np.stack([np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]])])  # mean: [[0.5, 0]]
    result = attention_overlap(heads, ood, ids, background)
    assert result.mass_in_ood == pytest.approx(0.5 * 0.5 / (0.5 * 1.0))
    assert result.mean_in_ood == pytest.approx(0.5)
    assert result.mean_background == pytest.approx(0.5 * 0.5 / 1.5)
    assert math.isnan(result.mean_in_id)


def test_padding_cells_count_for_nothing() -> None:
    ood, ids, background = _grid()
    attention = np.ones((4, 4))
    # Column 3 is letterbox padding: no coverage at all, whatever its attention.
    for cover in (ood, ids, background):
        cover[:, 3] = 0.0
    padded = attention.copy()
    padded[:, 3] = 0.9
    a = attention_overlap(attention, ood, ids, background)
    b = attention_overlap(padded, ood, ids, background)
    assert a == b
    assert a.area_ood == pytest.approx(4 / 12)


def test_no_ood_pixels_give_nan() -> None:
    _, ids, _ = _grid()
    result = attention_overlap(np.ones((4, 4)), np.zeros((4, 4)), ids, 1.0 - ids)
    for name in ('mass_in_ood', 'area_ood', 'lift', 'mean_in_ood', 'contrast'):
        assert math.isnan(getattr(result, name)), name
    assert result.mean_in_id == pytest.approx(1.0)
    assert result.mean_background == pytest.approx(1.0)


def test_rejects_bad_inputs() -> None:
    ood, ids, background = _grid()
    with pytest.raises(ValueError, match='grid'):
        attention_overlap(np.ones((3, 4)), ood, ids, background)
    with pytest.raises(ValueError, match='at most 1'):
        attention_overlap(np.ones((4, 4)), ood, ids, background + 0.5)
    with pytest.raises(ValueError, match='NaN'):
        attention_overlap(np.full((4, 4), np.nan), ood, ids, background)


def test_cell_coverage() -> None:
    mask = np.zeros((8, 8), bool)
    mask[0:2, 0:4] = True  # half of cell (0, 0) of a 4-pixel grid
    cover = cell_coverage(mask, (2, 2))
    np.testing.assert_allclose(cover, [[0.5, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match='multiple'):
        cell_coverage(mask, (3, 3))
    with pytest.raises(ValueError, match='strides'):
        cell_coverage(np.zeros((8, 4)), (2, 2))


def test_input_space_mask_identity_and_letterbox() -> None:
    mask = np.zeros((4, 6), bool)
    mask[1, 2] = True
    np.testing.assert_array_equal(input_space_mask(mask, (4, 6), (4, 6), 0, 0), mask)
    # Scaled x2 into an 8 x 12 image area placed 2 rows down in a 12 x 12 input.
    out = input_space_mask(mask, (12, 12), (8, 12), 2, 0)
    assert out.shape == (12, 12)
    assert not out[:2].any() and not out[10:].any()  # padding
    np.testing.assert_array_equal(np.argwhere(out), [[4, 4], [4, 5], [5, 4], [5, 5]])
    with pytest.raises(ValueError, match='fit'):
        input_space_mask(mask, (8, 8), (8, 12), 0, 0)


def test_aggregate_means_over_defined_images_then_blocks() -> None:
    ood, ids, background = _grid()
    half = np.full((4, 4), 0.5)
    focused = half.copy()
    focused[:2, :2] = 1.0
    img1 = {12: attention_overlap(focused, ood, ids, background),
            15: attention_overlap(half, ood, ids, background)}
    no_ood = {b: attention_overlap(half, np.zeros((4, 4)), ids, 1 - ids) for b in (12, 15)}
    agg = aggregate_overlaps([img1, no_ood], (12, 15))
    assert set(agg) == {'12', '15', 'mean'}
    assert agg['12']['images'] == 1 and agg['mean']['images'] == 1
    assert agg['12']['mean_in_ood'] == pytest.approx(1.0)  # the NaN image is left out
    assert agg['15']['mean_in_ood'] == pytest.approx(0.5)
    assert agg['mean']['mean_in_ood'] == pytest.approx(0.75)
    assert agg['12']['mass_in_ood'] == pytest.approx(0.4)
    assert agg['15']['lift'] == pytest.approx(1.0)
    # Background attention is defined on both images: (0.5 + 0.5) / 2
    assert agg['12']['mean_background'] == pytest.approx(0.5)
    assert set(OVERLAP_FIELDS) <= set(agg['mean'])
