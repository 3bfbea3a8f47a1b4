"""`negas-ros track-benchmark`: per-frame vs track-level OOD verdicts on world videos.

Runs the detector of ``--params`` (default: the package's config/demo.yaml, the shipped
negas_mini with its labels, score and threshold) over procedural-world videos, chooses the
track-evidence rule on the validation videos and reports both verdicts on the test videos
(:mod:`negas_ros.track_benchmark`). Writes ``tracking.json`` (top-level ``per_frame`` and
``track``: the test-video reports) and ``tracking.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import datetime
import json
import logging
from pathlib import Path
import platform
from typing import Any

_log = logging.getLogger('negas_ros.track_benchmark')

TARGETS = {'near_fpr95_relative_drop': 0.30, 'flicker_ratio': 5.0, 'frames_to_flag_median': 5,
           'tracking_ms_at_50_detections': 2.0}


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        'track-benchmark', help='per-frame vs track-level OOD verdicts on world videos',
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--params', type=Path, metavar='YAML',
                        help="the node's parameters (default: the package's config/demo.yaml)")
    parser.add_argument('--videos', type=int, default=8, metavar='N',
                        help='videos per set kind (ID, near, far, near_unseen) and split')
    parser.add_argument('--frames', type=int, default=60, metavar='N', help='frames per video')
    parser.add_argument('--size', default='320x320', metavar='WxH', help='frame size')
    parser.add_argument('--seed', type=int, default=0, help='world seed')
    parser.add_argument('--out', type=Path, required=True, metavar='DIR',
                        help='writes tracking.json and tracking.md here')
    parser.set_defaults(func=run)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise ValueError(f"--size must look like 320x320, got '{text}'") from None
    return width, height


def run(args: argparse.Namespace) -> int:
    from negas_ros.backends.base import create_backend
    from negas_ros.config import config_from_values, load_params_file
    from negas_ros.machine import cpu_name
    from negas_ros.package_paths import share_dir as package_share_dir
    from negas_ros.pipeline import DetectorPipeline
    from negas_ros.track_benchmark import (
        ASSOCIATIONS,
        CANDIDATES,
        detect_videos,
        evaluate_candidate,
        id_map,
        identity_report,
        select_candidate,
    )
    from negas_ros.world import World

    if args.videos < 1 or args.frames < 2:
        raise ValueError('--videos must be >= 1 and --frames >= 2')
    size = _size(args.size)
    share_dir = package_share_dir()
    params = args.params or Path(share_dir or '.') / 'config' / 'demo.yaml'
    values = load_params_file(params, share_dir=share_dir, validate=False)
    config = config_from_values(values, share_dir=share_dir)
    pipeline = DetectorPipeline(config, create_backend(config.backend, config.backend_spec()))
    world = World(args.seed)

    def progress(split: str, index: int) -> None:
        _log.info('%s video %d done', split, index)

    val_results = detect_videos(pipeline, world, 'val', args.videos, args.frames, size, progress)
    test_results = detect_videos(pipeline, world, 'test', args.videos, args.frames, size,
                                 progress)
    val_reports = {c.name: evaluate_candidate(val_results, config.tracking, c)
                   for c in CANDIDATES}
    chosen = select_candidate(val_reports)
    # Each candidate is measured on test at the thresholds calibrated for it on validation.
    test_reports = {c.name: evaluate_candidate(test_results, config.tracking, c,
                                               val_reports[c.name]['thresholds'])
                    for c in CANDIDATES}
    test = test_reports[chosen]
    # Our association against ByteTrack's own rules, with the chosen evidence rule; each with
    # its thresholds calibrated on validation.
    candidate = next(c for c in CANDIDATES if c.name == chosen)
    association: dict[str, dict[str, dict[str, float]]] = {'val': {}, 'test': {}}
    for name, rules in ASSOCIATIONS.items():
        base = replace(config.tracking, association=replace(
            rules, max_lost=config.tracking.association.max_lost))
        val_report = evaluate_candidate(val_results, base, candidate)
        test_report = evaluate_candidate(test_results, base, candidate, val_report['thresholds'])
        tracked = replace(base, enabled=True, evidence=candidate.evidence)
        for split, report, results in (('val', val_report, val_results),
                                       ('test', test_report, test_results)):
            track = report['track']
            association[split][name] = {
                **identity_report(results, tracked),
                'near_fpr95': track['near']['fpr95'],
                'flicker_per_100_frames': track['flicker_per_100_frames'],
                'ood_tracks_flagged': track['ood_tracks_flagged'],
                'id_tracks_wrongly_flagged': track['id_tracks_wrongly_flagged'],
            }
    frames_total = sum(len(v) for vs in test_results.frames.values() for v in vs)
    doc = {
        'per_frame': test['per_frame'],
        'track': test['track'],
        'chosen': chosen,
        'chosen_evidence': next(c.evidence for c in CANDIDATES if c.name == chosen).__dict__,
        'selection_rule': 'among candidates whose validation frames_to_flag_median <= 5, '
                          'those within 1 point of the lowest validation near FPR95, then the '
                          'least validation flicker',
        'validation': {name: {'near_fpr95': r['track']['near']['fpr95'],
                              'flicker_per_100_frames': r['track']['flicker_per_100_frames'],
                              'frames_to_flag_median': r['track']['frames_to_flag_median'],
                              'id_tracks_wrongly_flagged':
                                  r['track']['id_tracks_wrongly_flagged']}
                       for name, r in val_reports.items()},
        'validation_per_frame': val_reports[chosen]['per_frame'],
        'test_all_candidates': {name: {'near_fpr95': r['track']['near']['fpr95'],
                                       'flicker_per_100_frames':
                                           r['track']['flicker_per_100_frames']}
                                for name, r in test_reports.items()},
        'thresholds': test['thresholds'],
        'association': association,
        'score_variance_within_tracks': {
            'val': val_reports[chosen]['score_variance_within_tracks'],
            'test': test['score_variance_within_tracks']},
        'id_map': id_map(test_results, config.labels.id_labels),
        'tracking_ms_per_frame': test['tracking_ms_per_frame'],
        'detector_ms_per_frame': 1000.0 * test_results.detector_s / max(frames_total, 1),
        'meta': {
            'params': str(params), 'model': config.model, 'backend': config.backend,
            'labels': config.labels_source, 'score_method': config.score_method,
            'ood_threshold': config.ood_threshold, 'box_threshold': config.box_threshold,
            'tracker': config.tracking.tracker, 'videos_per_kind': args.videos,
            'frames_per_video': args.frames, 'size': list(size), 'seed': args.seed,
            'detections': test['detections'],
            'machine': f'{cpu_name()}, {platform.system()} {platform.release()}',
            'date': datetime.date.today().isoformat(),
        },
        'targets': TARGETS,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'tracking.json').write_text(json.dumps(doc, indent=2, default=float) + '\n')
    write_markdown(args.out / 'tracking.md', render_markdown(doc))
    print(console_summary(doc))
    return 0


BEGIN = '<!-- track-benchmark results: begin (written by negas-ros track-benchmark) -->'
END = '<!-- track-benchmark results: end -->'


def write_markdown(path: Path, results: str) -> None:
    """Put ``results`` between the BEGIN/END markers of ``path`` (the hand-written rest of
    the page stays); a page without them gets the results alone, between markers."""
    block = f'{BEGIN}\n{results.rstrip()}\n{END}\n'
    text = path.read_text(encoding='utf-8') if path.exists() else ''
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + block + tail.lstrip('\n')
    else:
        text = block
    path.write_text(text, encoding='utf-8')


def _f(value: Any, digits: int = 3) -> str:
    if value is None:
        return 'n/a'
    if isinstance(value, float):
        return f'{value:.{digits}f}'
    return str(value)


def _change(drop: float | None) -> str:
    if drop is None:
        return 'n/a'
    return f'{100.0 * drop:.1f}% lower' if drop >= 0 else f'{-100.0 * drop:.1f}% higher'


def _pct(value: Any) -> str:
    return 'n/a' if value is None else f'{100.0 * value:.1f}'


def console_summary(doc: dict[str, Any]) -> str:
    lines = [f"chosen on validation: {doc['chosen']}"]
    for verdict in ('per_frame', 'track'):
        r = doc[verdict]
        lines.append(
            f"{verdict:9s} near FPR95 {_pct(r['near']['fpr95'])}  far {_pct(r['far']['fpr95'])}"
            f"  near_unseen {_pct(r['near_unseen']['fpr95'])}  flicker/100 "
            f"{_f(r['flicker_per_100_frames'], 2)}  frames to flag "
            f"{_f(r['frames_to_flag_median'], 1)}  ID tracks flagged "
            f"{_pct(r['id_tracks_wrongly_flagged'])}%")
    return '\n'.join(lines)


def render_markdown(doc: dict[str, Any]) -> str:
    meta = doc['meta']
    per_frame, track = doc['per_frame'], doc['track']
    lines = [
        '## Results',
        '',
        f"*`negas-ros track-benchmark --out docs` on {meta['date']} ({meta['machine']}): "
        f"model `{Path(meta['model']).name}` ({meta['backend']}), labels "
        f"`{Path(meta['labels']).name}`, score `{meta['score_method']}`, tracker "
        f"`{meta['tracker']}`; {meta['videos_per_kind']} videos of {meta['frames_per_video']} "
        f"frames ({meta['size'][0]}x{meta['size'][1]}, 30 fps) per set kind and split, world "
        f"seed {meta['seed']}; {meta['detections']} test detections.*",
        '',
        f"Evidence rule chosen on the validation videos: **{doc['chosen']}** "
        f"({doc['selection_rule']}). Thresholds, each at 95% of its verdict's ID validation "
        f"samples: per frame {_f(doc['thresholds']['per_frame'])}, track "
        f"{_f(doc['thresholds']['track'])}. Test videos, same model and negatives:",
        '',
        '| verdict | near FPR95 | near AUROC | far FPR95 | near_unseen FPR95 | flicker / 100 '
        'frames | frames to first flag (median) | OOD tracks flagged | ID tracks wrongly '
        'flagged |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    for name, r in (('per frame', per_frame), ('track', track)):
        lines.append(
            f"| {name} | {_pct(r['near']['fpr95'])} | {_pct(r['near']['auroc'])} | "
            f"{_pct(r['far']['fpr95'])} | {_pct(r['near_unseen']['fpr95'])} | "
            f"{_f(r['flicker_per_100_frames'], 2)} | {_f(r['frames_to_flag_median'], 1)} | "
            f"{_pct(r['ood_tracks_flagged'])}% | {_pct(r['id_tracks_wrongly_flagged'])}% |")
    near_pf, near_tr = per_frame['near']['fpr95'], track['near']['fpr95']
    flick_pf, flick_tr = per_frame['flicker_per_100_frames'], track['flicker_per_100_frames']
    drop = (near_pf - near_tr) / near_pf if near_pf else None
    ratio = flick_pf / flick_tr if flick_tr else None
    lines += [
        '',
        f"ID mAP of the ID test videos (tracking changes no box or label): "
        f"{_pct(doc['id_map']['map'])} (mAP50 {_pct(doc['id_map']['map50'])}). Tracking cost "
        f"{_f(doc['tracking_ms_per_frame'], 3)} ms per frame here (detector "
        f"{_f(doc['detector_ms_per_frame'], 1)} ms). Share of the per-frame score variance "
        f"that lies within tracks (what averaging can remove): "
        f"{_pct(doc['score_variance_within_tracks']['test'])}% on test "
        f"({_pct(doc['score_variance_within_tracks']['val'])}% on validation).",
        '',
        '### Against the targets',
        '',
        f"- Near-OOD FPR95, track vs per frame: {_pct(near_pf)} -> {_pct(near_tr)}, "
        f"{_change(drop)} (target: at least 30% lower): "
        f"**{'met' if drop is not None and drop >= 0.30 else 'missed'}**.",
        f"- Flicker: {_f(flick_pf, 2)} -> {_f(flick_tr, 2)} changes per 100 frames, "
        f"{_f(ratio, 1)}x lower (target: 5x): "
        f"**{'met' if ratio is not None and ratio >= 5.0 else 'missed'}**.",
        f"- Median frames to the first flag of an OOD track: "
        f"{_f(track['frames_to_flag_median'], 1)} (target: at most 5): **"
        f"{'met' if (track['frames_to_flag_median'] or 99) <= 5 else 'missed'}**.",
        '',
        '### Validation (where the rule was chosen)',
        '',
        '| candidate | near FPR95 | flicker / 100 frames | frames to flag | ID tracks '
        'wrongly flagged |',
        '|---|---|---|---|---|',
        f"| per frame | {_pct(doc['validation_per_frame']['near']['fpr95'])} | "
        f"{_f(doc['validation_per_frame']['flicker_per_100_frames'], 2)} | "
        f"{_f(doc['validation_per_frame']['frames_to_flag_median'], 1)} | "
        f"{_pct(doc['validation_per_frame']['id_tracks_wrongly_flagged'])}% |",
    ]
    for name, r in doc['validation'].items():
        mark = ' (chosen)' if name == doc['chosen'] else ''
        lines.append(f"| {name}{mark} | {_pct(r['near_fpr95'])} | "
                     f"{_f(r['flicker_per_100_frames'], 2)} | "
                     f"{_f(r['frames_to_flag_median'], 1)} | "
                     f"{_pct(r['id_tracks_wrongly_flagged'])}% |")
    lines += [
        '',
        "### Association: ours against ByteTrack's own rules",
        '',
        'The chosen evidence rule under both association rules (tracking.py; ByteTrack offers '
        'unsure boxes only the tracks seen in the previous frame and drops a new track missed '
        "in its next frame). Identity against the videos' ground-truth ids: switches per 100 "
        'matched boxes, tracks per object, matched boxes whose track mostly covers another '
        'object.',
        '',
        '| videos | association | identity switches / 100 | tracks per object | other '
        "object's track | flicker / 100 frames | near FPR95 | OOD tracks flagged | ID tracks "
        'wrongly flagged |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    for split in ('val', 'test'):
        for name, r in doc.get('association', {}).get(split, {}).items():
            lines.append(
                f"| {split} | {name} | {_f(r['id_switches_per_100'], 1)} | "
                f"{_f(r['tracks_per_object'], 2)} | {_pct(r['impure_share'])}% | "
                f"{_f(r['flicker_per_100_frames'], 2)} | {_pct(r['near_fpr95'])} | "
                f"{_pct(r['ood_tracks_flagged'])}% | {_pct(r['id_tracks_wrongly_flagged'])}% |")
    lines += [
        '',
        'The other candidates on the test videos (reported, not used for any choice): ' +
        ', '.join(f"{name} {_pct(r['near_fpr95'])} / {_f(r['flicker_per_100_frames'], 2)}"
                  for name, r in doc['test_all_candidates'].items()) + ' (near FPR95 / flicker).',
        '',
    ]
    return '\n'.join(lines)
