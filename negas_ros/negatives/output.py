"""Reading the ID labels, and writing the labels YAML and the --explain report.

The written file is a label file :func:`negas_ros.labels.load_labels` accepts as it is::

    # header comment: how it was made and the command that remakes it
    id_labels: [...]
    negative_labels: [...]          # grouped by the ID label they were made for
    prompt_template: '...'          # only when the input label file had one
    provenance: {method, model or wordnet, date, parameters, ...}

:func:`write_labels_yaml` checks that with ``load_labels`` before replacing the output, so a
bad list never overwrites a good file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import datetime
import os
from pathlib import Path
import tempfile
from typing import Any

import yaml

from negas_ros.labels import LabelError, load_labels, make_label_set
from negas_ros.negatives.filtering import Decision

__all__ = [
    'IdLabels',
    'generation_date',
    'read_id_labels',
    'read_negative_groups',
    'write_explain',
    'write_labels_yaml',
]


class IdLabels:
    """ID labels read from a file: the labels, its prompt template (or None) and its path."""

    def __init__(self, labels: Sequence[str], template: str | None, source: str) -> None:
        self.labels = tuple(labels)
        self.template = template
        self.source = source


def read_id_labels(path: str | os.PathLike[str]) -> IdLabels:
    """ID labels from a label YAML (``.yaml``/``.yml``: its ``id_labels`` and
    ``prompt_template``) or a text file (one label per line; blank lines and lines starting
    with '#' skipped). Raises LabelError (a ValueError) naming the file on any problem,
    including repeated labels."""
    source = os.fspath(path)
    if source.endswith(('.yaml', '.yml')):
        label_set = load_labels(source)
        with open(source, encoding='utf-8') as stream:
            data = yaml.safe_load(stream)
        template = data.get('prompt_template') if isinstance(data, dict) else None
        return IdLabels(label_set.id_labels, template, source)
    try:
        text = Path(source).read_text(encoding='utf-8')
    except FileNotFoundError:
        raise LabelError(f'{source}: ID label file not found; check the path') from None
    except (OSError, UnicodeDecodeError) as error:
        raise LabelError(f'{source}: cannot read ID label file: {error}') from None
    lines = [line.strip() for line in text.splitlines()]
    labels = [line for line in lines if line and not line.startswith('#')]
    checked = make_label_set(labels, source=source)  # same rules as a YAML file
    return IdLabels(checked.id_labels, None, source)


def read_negative_groups(path: str | os.PathLike[str]) -> dict[str | None, list[str]]:
    """The negatives of a label file grouped as :func:`write_labels_yaml` wrote them (its
    ``# near <ID label>`` comments); a file without such comments gives one group (key None).
    Only the grouping comes from the comments: the words are those ``load_labels`` reads."""
    label_set = load_labels(path)
    text = Path(path).read_text(encoding='utf-8').splitlines()
    words = iter(label_set.negative_labels)
    ordered: dict[str | None, list[str]] = {}
    counts: list[str | None] = []
    current: str | None = None
    inside = False
    for line in text:
        stripped = line.strip()
        if not line.startswith((' ', '-')) and stripped and not stripped.startswith('#'):
            inside = stripped.startswith('negative_labels:')
            continue
        if inside and stripped.startswith('# near '):
            label = stripped[len('# near '):].strip()
            current = label if label in label_set.id_labels else None
        elif inside and stripped == '# not grouped':
            current = None
        elif inside and stripped.startswith('- '):
            counts.append(current)
    if len(counts) != len(label_set.negative_labels):  # not the layout we write: one group
        return {None: list(label_set.negative_labels)}
    for key in counts:
        ordered.setdefault(key, []).append(next(words))
    return ordered


def generation_date() -> str:
    """Today (UTC) as YYYY-MM-DD, or the date of $SOURCE_DATE_EPOCH when set (reproducible
    builds): a date, not a time, so that a rerun on the same day writes the same bytes."""
    epoch = os.environ.get('SOURCE_DATE_EPOCH')
    now = (
        datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc)
        if epoch and epoch.isdigit()
        else datetime.datetime.now(tz=datetime.timezone.utc)
    )
    return now.date().isoformat()


class _Dumper(yaml.SafeDumper):
    """Block style with list items indented under their key, as the hand-written files."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


def _dump(data: object) -> str:
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=99,
        default_flow_style=False,
    )


def write_labels_yaml(
    path: str | os.PathLike[str],
    id_labels: Sequence[str],
    by_id_label: Mapping[str | None, Sequence[str]],
    provenance: Mapping[str, object],
    *,
    template: str | None = None,
    header: str = '',
) -> None:
    """Write a label file (module docstring) atomically and check it with ``load_labels``.

    by_id_label: the negatives grouped by the ID label they belong to (key None: no label,
        e.g. random ones); written in ``id_labels`` order with a comment per group.
    header: comment lines put at the top ('# ' is added to each).
    Raises LabelError when the result would not load (the old file is left untouched).
    """
    target = Path(path)
    lines = [f'# {line}'.rstrip() for line in header.splitlines()]
    lines += _dump({'id_labels': list(id_labels)}).splitlines()
    lines.append('negative_labels:')
    groups: list[tuple[str | None, Sequence[str]]] = [
        (label, by_id_label.get(label, ())) for label in id_labels
    ]
    groups.append((None, by_id_label.get(None, ())))
    count = 0
    for label, negatives in groups:
        if not negatives:
            continue
        if label is not None:
            lines.append(f'  # near {label}')
        elif count:  # ungrouped ones after grouped ones: say so, or they read as the last group's
            lines.append('  # not grouped')
        for negative in negatives:
            lines.append('  ' + _dump([negative]).strip())
            count += 1
    if count == 0:
        lines[-1] = 'negative_labels: []'
    if template is not None:
        lines += _dump({'prompt_template': template}).splitlines()
    lines += _dump({'provenance': dict(provenance)}).splitlines()
    text = '\n'.join(lines) + '\n'
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f'.{target.name}.', dir=target.parent)
    try:
        with os.fdopen(handle, 'w', encoding='utf-8') as stream:
            stream.write(text)
        load_labels(tmp_name)  # the node must be able to load what we write
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_explain(path: str | os.PathLike[str], decisions: Sequence[Decision]) -> None:
    """The decisions as a TSV file: candidate, label, reason, source, score, detail."""
    rows = ['candidate\tlabel\treason\tsource\tscore\tdetail']
    for d in decisions:
        score = '' if d.score is None else f'{d.score:.4f}'
        fields = [d.candidate, d.label, d.reason, d.source or '', score, d.detail]
        rows.append('\t'.join(f.replace('\t', ' ').replace('\n', ' ') for f in fields))
    Path(path).write_text('\n'.join(rows) + '\n', encoding='utf-8')
