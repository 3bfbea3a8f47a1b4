"""Write docs/results.md, docs/results.json and docs/img/results_*.png from a benchmark run
(docs/validation/ for a run on the validation splits)."""

from __future__ import annotations

from collections.abc import Mapping
import json
from pathlib import Path
from typing import Any

from negas_ros.benchmark.plan import DEFAULT_FUSION_GRID, TEST_SPLITS, VAL_SPLITS, SplitSet
from negas_ros.benchmark.plots import write_figures
from negas_ros.benchmark.report import (
    attention_block_table,
    attention_table,
    category_table,
    markdown_table,
    named_categories,
    negative_response_table,
)
from negas_ros.benchmark.run import BenchmarkRun

__all__ = ['check_out_dir', 'console_table', 'render_markdown', 'write_results']

_KNOWN = ('near', 'far')
_UNSEEN = ('near_unseen', 'far_unseen')


def _pct(value: Any) -> str:
    return '–' if value is None else f'{100 * float(value):.2f}'


def _target_lines(target: Mapping[str, Any], label: str) -> list[str]:
    reduction, drop = target.get('fpr95_reduction'), target.get('map_drop_points')
    met = target.get('met')
    verdict = {True: '**met**', False: '**not met**', None: '**undecidable**'}[met]
    reduction_text = '–' if reduction is None else f'{100 * reduction:.1f}%'
    drop_text = '–' if drop is None else f'{drop:+.2f}'
    boot = target.get('bootstrap') or {}
    interval = boot.get('fpr95_reduction_ci95')
    spread = ''
    if interval is not None:
        spread = (f" (95% interval {100 * interval[0]:.1f}% to {100 * interval[1]:.1f}%, "
                  f"target reached in {100 * (boot.get('share_met') or 0.0):.0f}% of "
                  f"{boot['reps']} image bootstrap draws)")
    return [
        f"- {label}: FPR95 {_pct(target.get('fpr95_baseline'))} (max-sigmoid) → "
        f"{_pct(target.get('fpr95_negas'))} (NegAS), a relative reduction of {reduction_text}"
        f"{spread} (target ≥ {100 * target['required_reduction']:.0f}%); ID mAP "
        f"{_pct(target.get('map_baseline'))} → {_pct(target.get('map_negas'))}, a drop of "
        f"{drop_text} points (target ≤ {target['max_map_drop_points']:g}). Target {verdict}.",
    ]


def _set_names(meta: Mapping[str, Any], splits: SplitSet
               ) -> list[tuple[str, dict[str, list[str]]]]:
    """Per negative set (results.json order): OOD set -> the categories it literally names.
    Read from ``meta.negative_sets[].names``; computed from the world's split definitions when
    a document lacks them."""
    from negas_ros.world.splits import SPLITS as WORLD_SPLITS

    out = []
    for entry in meta.get('negative_sets', []):
        names = entry.get('names')
        if names is None:
            names = {name: named_categories(entry['words'], WORLD_SPLITS[split].categories)
                     for name, split in splits.ood.items()}
        out.append((entry['key'], {name: list(names.get(name, [])) for name in splits.ood}))
    return out


def _leak_lines(meta: Mapping[str, Any], splits: SplitSet) -> list[str]:
    """One clause per negative set: which categories of each OOD split it literally names."""
    lines = []
    for key, names in _set_names(meta, splits):
        parts = [f"{name}: {', '.join(named) if named else 'none'}"
                 for name, named in names.items()]
        lines.append(f'`{key}` names ' + '; '.join(parts))
    return lines


def _provenance_section(meta: Mapping[str, Any]) -> list[str]:
    """Where the evaluated configuration comes from (test runs): the label file's provenance,
    the card's NegA rule and the NegS form, which the validation runs chose."""
    model = meta['model']
    provenance = meta.get('labels_provenance') or {}
    out = ['## How the evaluated configuration was chosen\n',
           'Nothing below was tuned on these test splits. The negative list, the NegA rule and '
           'the NegS form were chosen on the validation splits (`--splits val`, written to '
           '`docs/validation/`), which are drawn like the test splits but disjoint from them; '
           'the test splits are for reporting only. Every candidate, the rule that picked the '
           'winner and its validation numbers: `docs/choices.md`.\n']
    if provenance.get('command'):
        out.append(f"- Negatives: `{model['labels']}`, made by `{provenance['command']}`"
                   + (f" from `{provenance['source']['file']}`"
                      if isinstance(provenance.get('source'), Mapping)
                      and provenance['source'].get('file') else '') + '.')
    elif provenance.get('method'):
        out.append(f"- Negatives: `{model['labels']}` ({provenance['method']}).")
    rule = model['nega_fusion'] + (f" (w = {model['nega_weight']:g})"
                                   if model['nega_fusion'] in ('weighted', 'gate') else '')
    out.append(f'- NegA rule (model card): {rule}.')
    out.append(f"- NegS form: `{meta.get('negs_method', 'negs')}` "
               '(`negas_ros.scores`).\n')
    return out


def _margin_lines(margin: Mapping[str, Any]) -> list[str]:
    """One line per rival of a family's winner: its lead and the bootstrap interval."""
    out: list[str] = []
    shown = set()
    for role, label in (('runner_up', 'runner-up'), ('reference', 'reference')):
        rival = margin.get(role)
        if not rival or rival['name'] in shown:  # the runner-up may be the reference too
            continue
        shown.add(rival['name'])
        ci = rival.get('lead_points_ci95')
        inside = ci is not None and ci[0] <= 0.0 <= ci[1]
        share = rival.get('share_winner_better')
        out.append(
            f"- lead over the {label} `{rival['name']}`: {rival['lead_points']:+.2f} points "
            + (f'(95% interval {ci[0]:+.2f} to {ci[1]:+.2f}' if ci is not None else '(no interval')
            + (f"; the winner is better in {100 * share:.0f}% of {margin['reps']} image "
               'bootstrap draws)' if share is not None else ')')
            + (': **inside the noise**' if inside else ''))
    if out:
        out.append('')
    return out


def _choices_section(selection: Mapping[str, Any], margins: Mapping[str, Any]
                     ) -> list[str]:
    """The 'Choices made on these splits' section of a validation run."""
    out = ['## Choices made on these splits\n', f"{selection['rule']}\n"]
    if margins:
        out.append("Each winner's lead (points of mean FPR95 a rival is behind) comes with a "
                   '95% interval over image resamples of these splits (paired, tau* fixed); '
                   'an interval holding 0 means these images cannot tell the two apart. The '
                   'rule does not use the intervals; they say how far to trust each choice.\n')
    for key, family in selection.get('families', {}).items():
        out.append(f"**{family['title']}**: winner "
                   + (f"`{family['winner']}` (mean FPR95 {_pct(family['value'])})\n"
                      if family['winner'] is not None else 'none (no admissible candidate)\n'))
        out.extend(_margin_lines(margins.get(key) or {}))
        out.append('| candidate | row | mean FPR95↓ (near, near_unseen) | mean AUROC↑ | '
                   'mAP↑ | mAP drop (points) | admissible |')
        out.append('|---|---|---:|---:|---:|---:|:---:|')
        for name, cand in family['candidates'].items():
            bold = '**' if name == family['winner'] else ''
            drop = cand.get('map_drop_points')
            out.append(f"| {bold}{name}{bold} | `{cand['row']}` | {bold}{_pct(cand['value'])}"
                       f"{bold} | {_pct(cand.get('auroc'))} | {_pct(cand.get('map'))} | "
                       f"{'–' if drop is None else f'{round(drop, 2) + 0.0:+.2f}'} | "
                       f"{'yes' if cand.get('admissible') else 'no'} |")
        out.append('')
    return out


_FUSION_DEFINITIONS = (
    'NegA rules (`negas_ros.backends.yolo_world.network`; in each text-guided block, '
    'a = the attention on a feature cell, a_id / a_neg = sigmoid(z / √d + b) with z the '
    'best similarity to the ID / negative texts): off = a_id, the ID texts only; max '
    '= sigmoid(max(z_id, z_neg) / √d + b), the union of ID and negative texts, as when '
    'the negatives are appended to the vocabulary; weighted = min(1, a_id + w·a_neg); '
    'gate = a_id·(1 − w·a_neg), the negatives damping the attention where they match; '
    'branch = the ID outputs of off (bit for bit) and the negative logits from a second '
    'pass of the neck guided by a_neg alone (the backbone runs once); branch_union = '
    'the same with the second pass guided by the max map. w = 0 makes weighted and gate '
    'equal to off; the other rules ignore w.')


def render_markdown(run: BenchmarkRun, doc: Mapping[str, Any]) -> str:
    """The whole results.md text for a run and its results.json document."""
    meta, plan = doc['meta'], run.plan
    splits = plan.splits
    ood = splits.ood
    validation = splits == VAL_SPLITS
    main = {key: doc[key] for key in meta['rows']}
    ablations = doc['ablations']
    setting_titles = {key: title for title, key in plan.attention_settings}
    images = meta['images']
    timings = meta['timings_s']
    model = meta['model']
    machine = meta['machine']
    card_rule = plan.settings[next(r.setting for r in plan.rows if r.key == 'negas')].describe()
    out: list[str] = []
    add = out.append
    add('# OOD benchmark results on the validation splits (generated)\n' if validation else
        '# OOD benchmark results (generated)\n')
    add('Written by `negas-ros ood-benchmark`; do not edit by hand: rerun the command below. '
        'Every number is from the model and labels named under *Setup*, on procedurally '
        f"rendered images of `negas_ros.world` (ID: `{splits.id}`; OOD: `{ood['near']}`, "
        f"`{ood['far']}` and their `_unseen` twins, whose categories were never in "
        'pretraining).\n')
    if validation:
        add(f'**Validation run** (`--splits {splits.name}`): these splits are drawn exactly '
            'like the test splits but are disjoint from them. Every tuning choice (negative '
            'list, NegA rule and weight, score form, thresholds) is made on these numbers '
            '(*Choices made on these splits* below); the test results (docs/results.md) are '
            'for reporting only.\n')
    if meta.get('mode') == 'quick':
        add('**Quick run** (the `--quick` subset): few images, noisy numbers; the full table '
            'comes from `negas-ros ood-benchmark` without `--quick`.\n')
    add('## Headline\n')
    out.extend(_target_lines(doc['target'], f"Near-OOD (known categories, `{ood['near']}`)"))
    out.extend(_target_lines(doc['target_unseen'], 'Near-OOD, unseen categories '
                             f"(`{ood['near_unseen']}`)"))
    leaks = _leak_lines(meta, splits)
    if leaks:
        add('- Caveat: which categories of each OOD split a negative list literally names '
            '(compared as `negas_ros.labels.normalize_label` does): ' + '. '.join(leaks)
            + '. Where a list names a category, its rows on that split measure a list that '
            'names the unknown objects (as an LLM list for "car" names "van", which COCO-OOD '
            'holds), not unknowns in general.')
    tau = main['max_sigmoid'].get('tau')
    if tau is not None and tau < 1.5 * meta['box_threshold']:
        add(f"- Caveat: tau* = {tau:.3f} lies close to the candidate threshold "
            f"{meta['box_threshold']:g}: nearly every candidate is a sample, so the OOD numbers "
            'depend on that threshold.')
    add('')
    selection = doc.get('selection')
    if validation and selection:
        out.extend(_choices_section(selection, doc.get('selection_margins') or {}))
    if not validation:
        out.extend(_provenance_section(meta))
    add('## Main table\n')
    add('FPR95, AUROC, AUPR (AUPR-In, ID positive) in percent, over detections kept at the '
        'F1-optimal threshold tau* (see *Protocol*); ID mAP = COCO AP@[.5:.95] on '
        f'`{splits.id}`. `neg.` = number of negative labels the score reads.\n')
    add(markdown_table(main, _KNOWN))
    add('')
    add('Held-out categories (never in pretraining; the text encoder still embeds their '
        'names, so a negative list may name them: see the caveat above):\n')
    add(markdown_table(main, _UNSEEN, with_map=False, with_samples=True))
    add('')
    add('![ROC curves](img/results_roc.png)\n')
    add('![Score histograms](img/results_hist.png)\n')
    add('## Ablations\n')
    add('### Negative lists: the shipped list, the other lists, random words, none\n')
    add("The detector's text side embeds any English phrase (the shipped model: a frozen "
        'sentence encoder and a learned projection; no closed vocabulary), so every list '
        'below is embedded as written.\n')
    by_key = {entry['key']: entry for entry in meta.get('negative_sets', [])}
    for nset in plan.negative_sets:
        entry = by_key.get(nset.key, {})
        where = f" from `{entry['file']}`" if entry.get('file') else ''
        words = ', '.join(nset.words)
        if nset.key == 'shipped':
            add(f'- `shipped`: the `negative_labels` of the main label file, {nset.source} '
                f'({len(nset.words)}: {words}); the `negs` and `negas` rows read this list.')
        elif nset.key == 'random':
            add(f'- `random`: {len(nset.words)} random words: {nset.source} ({words}). '
                "Real words, unrelated to the scenes, like NegLabel's random everyday words.")
        else:
            add(f'- `{nset.key}`: {nset.title}{where} ({len(nset.words)}: {words}).')
    add('- `none`: no negative labels (NegS is then max-sigmoid).')
    add('- Score: NegS. Every NegA-off row reads its columns from one NegA-off run with the '
        'union of all lists (each word once: with NegA off the negatives do not touch the '
        f"features); each list's NegA-on row runs the card's rule ({card_rule}) with that "
        'list alone.\n')
    add(markdown_table(ablations['negatives'], (*_KNOWN, *_UNSEEN), 'Negatives'))
    add('')
    add('How the negatives answer on the samples (detections kept at tau*): mean of the best '
        'negative sigmoid max_k q_k, and the share of samples whose best negative beats their '
        'best ID label. NegS can only separate OOD from ID where the OOD column is higher.\n')
    responding = {k: v for k, v in ablations['negatives'].items() if v.get('negative_response')}
    add(negative_response_table(responding, ('id', *_KNOWN, *_UNSEEN)))
    add('')
    off_rows = {nset.key: ablations['negatives'][f'{nset.key}/nega_off']
                for nset in plan.negative_sets
                if f'{nset.key}/nega_off' in ablations['negatives']}
    if off_rows:
        add('Which OOD objects pass tau* (NegA off; a sample counts for the ground-truth object '
            'it overlaps at IoU ≥ 0.5, else *none*), and how strongly each negative list '
            'answers on them:\n')
        add(category_table(off_rows, (*_KNOWN, *_UNSEEN)))
        add('')
    add('### NegA rule (shipped negatives)\n')
    grid = ', '.join(f'{rule}' + (f' {w:g}' if rule in ('weighted', 'gate') else '')
                     for rule, w in DEFAULT_FUSION_GRID)
    add('Each rule with NegS and with the plain max-sigmoid score, so that the effect of NegA on '
        'the features is seen apart from the score (definitions: *Protocol*, item 5). The '
        f'default grid is off and {grid}. The branch rules leave the ID outputs of NegA off '
        'untouched, so their max-sigmoid rows equal the off row.\n')
    add(markdown_table(ablations['fusion'], (*_KNOWN, *_UNSEEN), 'Fusion, score'))
    add('')
    add('### NegS forms and NegLabel (shipped negatives)\n')
    add(markdown_table(ablations['score_forms'], (*_KNOWN, *_UNSEEN), 'Score'))
    add('')
    add('### Attention on OOD objects: baseline (NegA off) vs NegA rules\n')
    add('Per image and text-guided block (layers 12, 15, 18, 21 of the neck; strides 16, 8, '
        '16, 32), with a = the attention the block applies (for max, weighted and gate the '
        'fused map; for the branch rules the map of the negative-guided second pass), averaged '
        'over heads, and o, d, g = the fraction of each feature cell covered by OOD objects, '
        'ID objects and background (clutter included; letterbox padding excluded):\n')
    add('- *mass in OOD* = Σ a·o / Σ a·(o+d+g): share of the attention mass on OOD pixels; '
        '*OOD area* = Σ o / Σ (o+d+g) is its value for uniform attention, and *lift* = mass / '
        'area;')
    add('- *mean a, OOD / ID / background* = Σ a·o / Σ o (likewise d, g): mean attention over '
        'those pixels; *OOD / background* = their ratio;')
    add('- *added by NegA, in OOD* = Σ e·o / Σ e·(o+d+g) with e = a − a_ID, the attention NegA '
        'adds in the block over the map of the ID texts alone (same block, same features; for '
        'the branch rules, the negative pass over the ID pass): the share of the added '
        'attention that lands on OOD pixels; compare it with *OOD area*.\n')
    add('Compared: ' + '; '.join(title for title, _key in plan.attention_settings) + ' (NegA '
        "off, the card's rule, the card's rule with the random words, and the grid's max and "
        "branch rules where they differ from the card's). "
        'Each quantity is averaged over the images where it is defined (OOD pixels present), '
        'per block, then over the four blocks. '
        f"Images: {', '.join(f'{s} {images.get(s, 0)}' for s in splits.attention)}.\n")
    add(attention_table(doc['attention_overlap'], setting_titles))
    add('')
    add('Mass in OOD per block:\n')
    add(attention_block_table(doc['attention_overlap'], setting_titles))
    add('')
    add('![Attention examples](img/results_attention.png)\n')
    add('## Protocol\n')
    add('VOS protocol (Du et al., ICLR 2022), as `negas-ros evaluate` implements it '
        '(`negas_ros.evaluation`):\n')
    add(f"1. The detector runs on every image with candidate threshold {meta['box_threshold']:g} "
        f"(max ID sigmoid), class-aware NMS at IoU {model['iou_threshold']:g} on the ID labels "
        f"only, at most {model['max_det']} boxes. Negative labels never create or suppress "
        'boxes.')
    add(f'2. ID accuracy: pycocotools COCOeval (bbox) over `{splits.id}`, every detection '
        'entered with its best ID label and confidence (max ID sigmoid). Ground-truth boxes '
        "are the world's visible-pixel boxes (inclusive ends + 1).")
    add('3. tau*: per class, the confidence at the recall point of best F1 (precision and score '
        'averaged over the 10 IoU thresholds, 101 recall points); tau* = the mean over classes. '
        'Computed per network setting (NegA changes the confidences), on '
        f'`{splits.id}` itself as in VOS.')
    add('4. Samples: detections with confidence ≥ tau*: on ID images ID samples, on OOD images '
        "OOD samples (OOD images hold no ID object). Each sample is valued by the row's score "
        '(larger = more ID); FPR95 = share of OOD samples at or above the score that keeps 95% '
        'of ID samples; AUROC; AUPR-In.')
    add('5. Scores (`negas_ros.scores`): max_sigmoid = max_c σ(s_c); energy = log Σ_c exp(s_c) '
        '(T = 1); joint_energy = Σ_c log(1 + exp(s_c)); neglabel = sum-softmax of ID over ID + '
        'negative logits (T = 1, one group); negs = max_c σ(s_c) · (1 − max_k σ(t_k)). '
        + _FUSION_DEFINITIONS)
    add('6. Efficiency: every image is rendered once; the network runs once per (image, NegA '
        'setting, negative list) and all scores of all rows come from the same logits. With '
        'NegA off the negatives do not reach the neck, so one NegA-off run with the union of '
        'every negative list serves every NegA-off row; settings that compute the same thing '
        "(a grid rule equal to the card's) run once.")
    add('7. Uncertainty: the headline intervals resample images with replacement (ID and OOD '
        "split, the same draw for both rows), weigh each sample by its image's count, and "
        'keep tau* fixed (`negas_ros.benchmark.bootstrap`).\n')
    add('## Setup\n')
    add(f"- Model: `{model['model']}` (weights `{model['weights']}`, sha256 "
        f"`{(model['weights_sha256'] or '')[:16]}…`), input {model['imgsz'][0]}×"
        f"{model['imgsz'][1]}, card NegA rule {model['nega_fusion']}"
        + (f" (w = {model['nega_weight']:g})"
           if model['nega_fusion'] in ('weighted', 'gate') else '')
        + '.')
    add(f"- Labels: `{model['labels']}`; ID: {', '.join(meta['id_labels'])}.")
    extra_files = [e for e in meta.get('negative_sets', [])
                   if e.get('file') and e['key'] != 'shipped']
    if extra_files:
        add('- Other negative lists: ' + ', '.join(
            f"`{e['key']}` = `{e['file']}` (sha256 `{(e.get('sha256') or '')[:16]}…`)"
            for e in extra_files) + '.')
    add(f"- Images ({meta['image_size'][0]}×{meta['image_size'][1]}, world seed "
        f"{meta['seed']}): " + ', '.join(f'{s} {n}' for s, n in images.items()) + '.')
    add('- Objects per split: ' + '; '.join(
        f'{s}: ' + ', '.join(f'{c} {n}' for c, n in cats.items())
        for s, cats in meta['categories'].items()) + '.')
    add(f"- Machine: {machine.get('cpu')}, {machine.get('cores')} cores "
        f"({meta['threads']} torch thread(s)), Python {machine.get('python')}, torch "
        f"{machine.get('torch', '?')}, commit {machine.get('git_commit', '?')}; "
        f"date {meta['date']}.")
    add(f"- Run time: {timings['total']:.0f} s in all ({timings['collect']:.0f} s rendering "
        f"and {meta['forwards']} network runs, {timings['evaluate']:.0f} s evaluation).")
    add(f"- Command: `{meta['command']}`\n")
    quick = doc.get('quick')
    if quick is not None:
        add('## Reproduction check\n')
        add('The `quick` block of results.json holds the main rows on the first '
            + ', '.join(f'{n} {s}' for s, n in quick['images'].items() if n)
            + ' images (the `--quick` subset), computed by the same run. '
            + ('`negas_ros.benchmark.run.reproduce_quick(..., splits=VAL_SPLITS)` reruns '
               'that subset alone; no test compares it with this file (the reproduction test '
               'checks docs/results.json, the test splits), and numbers should match within '
               f"{quick['tolerance']:g} (absolute).\n"
               if validation else
               '`test/benchmark/test_benchmark_reproduction.py` reruns that subset with the '
               'shipped weights and requires every number to match within '
               f"{quick['tolerance']:g} (absolute).\n"))
        add(markdown_table({k: quick[k] for k in meta['rows']}, _KNOWN))
        add('')
    return '\n'.join(out)


def console_table(doc: Mapping[str, Any]) -> str:
    """The main table and the target verdicts, for the terminal (and, for a validation run,
    the choices it makes)."""
    rows = {key: doc[key] for key in doc['meta']['rows']}
    lines = [markdown_table(rows, _KNOWN), '',
             markdown_table(rows, _UNSEEN, with_map=False, with_samples=True), '']
    lines.extend(_target_lines(doc['target'], 'near-OOD target'))
    if 'target_unseen' in doc:
        lines.extend(_target_lines(doc['target_unseen'], 'near-OOD unseen target'))
    validation = (doc['meta'].get('splits') or {}).get('set') == VAL_SPLITS.name
    selection = doc.get('selection')
    if validation and selection:
        lines.append('')
        for family in selection['families'].values():
            winner = family['winner']
            lines.append(f"- choice, {family['title']}: "
                         + (f"{winner} (mean FPR95 near/near_unseen {_pct(family['value'])})"
                            if winner is not None else 'none admissible'))
    return '\n'.join(lines)


def check_out_dir(out_dir: Path, splits: SplitSet) -> None:
    """Refuse (ValueError) to write results of ``splits`` where results.json holds another
    split set's, so that a validation run can never overwrite the test results (and back).

    A results.json without ``meta.splits`` predates split sets: it holds test results.
    An unreadable one is left for the writer to replace.
    """
    path = Path(out_dir) / 'results.json'
    if not path.is_file():
        return
    try:
        meta = json.loads(path.read_text(encoding='utf-8')).get('meta') or {}
    except (OSError, ValueError, AttributeError):
        return
    recorded = (meta.get('splits') or {}).get('set', TEST_SPLITS.name)
    if recorded != splits.name:
        raise ValueError(f'{path} holds results on the {recorded!r} splits; a run on the '
                         f'{splits.name!r} splits will not overwrite them: choose another '
                         'output directory (--out)')


def write_results(run: BenchmarkRun, doc: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Write results.md, results.json and img/results_*.png under ``out_dir``
    (:func:`check_out_dir` first: results of other splits there are never overwritten)."""
    out_dir = Path(out_dir)
    check_out_dir(out_dir, run.plan.splits)
    out_dir.mkdir(parents=True, exist_ok=True)
    titles = {key: title for title, key in run.plan.attention_settings}
    paths = write_figures(out_dir / 'img', run.results, [r.key for r in run.plan.rows],
                          (*_KNOWN, *_UNSEEN), run.outputs.examples, titles)
    json_path = out_dir / 'results.json'
    json_path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
    md_path = out_dir / 'results.md'
    md_path.write_text(render_markdown(run, doc) + '\n', encoding='utf-8')
    return [md_path, json_path, *paths]
