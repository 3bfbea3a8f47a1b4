"""The OOD benchmark behind ``negas-ros ood-benchmark`` (docs/results.md is its output).

Modules, in data-flow order
    plan       negative sets, network settings (NegA rule x negative list), table rows and
               ablations (pure)
    collect    render each image once, run each setting once per image, keep small arrays
    attention  overlap of attention maps with OOD object masks (pure numpy)
    protocol   the VOS protocol over the cached outputs, reusing :mod:`negas_ros.evaluation`
    report     results.json entries, Markdown tables, the target check (pure)
    select     the choices a validation run makes: negative list, NegA rule, score form (pure)
    plots      ROC, score histograms, attention examples (matplotlib)
    run        orchestration: load, plan, collect, evaluate; the quick-subset reproduction
    document   results.md / results.json / figures on disk

The same protocol runs on the test splits (:data:`TEST_SPLITS`, the default: what
docs/results.md reports) or on their validation twins (:data:`VAL_SPLITS`: where every tuning
choice is made; ``negas-ros ood-benchmark --splits val`` writes docs/validation/).

Importing this package imports neither torch nor matplotlib; the backend loads torch when
:func:`negas_ros.benchmark.run.run_benchmark` builds the detector.
"""

from negas_ros.benchmark.attention import (
    AttentionOverlap,
    aggregate_overlaps,
    attention_overlap,
    cell_coverage,
    input_space_mask,
)
from negas_ros.benchmark.plan import (
    DEFAULT_FUSION_GRID,
    TEST_SPLITS,
    VAL_SPLITS,
    BenchmarkPlan,
    NegativeSet,
    NetworkSetting,
    RowSpec,
    SplitSet,
    build_plan,
)
from negas_ros.benchmark.report import markdown_table, target_check
from negas_ros.benchmark.select import select_choices

__all__ = [
    'DEFAULT_FUSION_GRID',
    'TEST_SPLITS',
    'VAL_SPLITS',
    'AttentionOverlap',
    'BenchmarkPlan',
    'NegativeSet',
    'NetworkSetting',
    'RowSpec',
    'SplitSet',
    'aggregate_overlaps',
    'attention_overlap',
    'build_plan',
    'cell_coverage',
    'input_space_mask',
    'markdown_table',
    'select_choices',
    'target_check',
]
