"""A finished training run on disk, so that training and release can happen on two machines.

A lent GPU machine has torch but neither the sentence encoder nor WordNet nor pycocotools, and
only minutes: it trains from a saved :class:`~negas_ros.train.text.PhraseBank` and writes the
run (:func:`save_run`); this machine then reads it back (:func:`load_run`) and releases it
(:func:`negas_ros.train.release.release`: model directory, evaluation through the backend,
card). The run directory:

    weights.safetensors  the EMA network ('net.*') and text projection ('projection.*'), fp32
    run.json             config, history, validations, steps, wall time, the machine
    bank.npz             the phrase bank the run trained with (PhraseBank.save)

Nothing in it is pickled: safetensors and JSON only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from negas_ros.train.trainer import TrainResult

RUN_FORMAT = 'negas_ros training run 1'
WEIGHTS = 'weights.safetensors'
META = 'run.json'
BANK = 'bank.npz'

__all__ = ['RUN_FORMAT', 'load_run', 'machine_facts', 'save_run']


def machine_facts(device: str) -> dict[str, Any]:
    """Where a run trained: the torch device, its name (GPU model or 'cpu'), torch version and
    the CPU count (the render workers' machine)."""
    import torch

    dev = torch.device(device)
    name = torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu'
    return {'device': str(dev), 'device_name': name, 'torch': torch.__version__,
            'cpus': os.cpu_count() or 0}


def save_run(result: TrainResult, directory: str | os.PathLike[str]) -> Path:
    """Write a :class:`~negas_ros.train.trainer.TrainResult` to ``directory`` (created)."""
    from safetensors.torch import save_file

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {f'net.{k}': v.detach().cpu().contiguous()
               for k, v in result.net.state_dict().items()}
    tensors.update({f'projection.{k}': v.detach().cpu().contiguous()
                    for k, v in result.projection.state_dict().items()})
    save_file(tensors, str(out / WEIGHTS))
    result.bank.save(out / BANK)
    meta = {
        'format': RUN_FORMAT,
        'config': result.config.to_dict(),
        'history': result.history,
        'validations': result.validations,
        'seconds': result.seconds,
        'steps_done': result.steps_done,
        'stopped_early': result.stopped_early,
        'machine': result.machine,
        'world_hash': result.world_hash,
    }
    (out / META).write_text(json.dumps(meta, indent=1) + '\n', encoding='utf-8')
    return out


def load_run(directory: str | os.PathLike[str]) -> TrainResult:
    """The :class:`~negas_ros.train.trainer.TrainResult` that :func:`save_run` wrote, on the
    CPU, weights loaded strictly. Raises ValueError naming the directory and the missing or
    bad file."""
    from safetensors.torch import load_file

    from negas_ros.train.config import TrainConfig
    from negas_ros.train.text import PhraseBank, TextProjection
    from negas_ros.train.trainer import TrainResult, build_network

    src = Path(directory)
    missing = [name for name in (WEIGHTS, META, BANK) if not (src / name).is_file()]
    if missing:
        raise ValueError(f'{src}: not a training run directory (missing {", ".join(missing)});'
                         ' write one with negas-ros train-world --run-out')
    meta = json.loads((src / META).read_text(encoding='utf-8'))
    if meta.get('format') != RUN_FORMAT:
        raise ValueError(f'{src / META}: run format {meta.get("format")!r}, expected '
                         f'{RUN_FORMAT!r}')
    cfg = TrainConfig.from_dict(meta['config'])
    bank = PhraseBank.load(src / BANK)
    net = build_network(cfg.network_config(), cfg.imgsz, len(bank.categories),
                        cfg.objects_per_image)
    projection = TextProjection(bank.raw.shape[1], cfg.embed_dim)
    tensors = load_file(str(src / WEIGHTS))
    for prefix, module in (('net.', net), ('projection.', projection)):
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise ValueError(f'{src / WEIGHTS}: {prefix.rstrip(".")} weights do not fit the '
                             f'run config ({err})') from err
    return TrainResult(net.eval(), projection.eval(), bank, cfg,
                         history=list(meta['history']), validations=list(meta['validations']),
                         seconds=float(meta['seconds']), steps_done=int(meta['steps_done']),
                         stopped_early=bool(meta['stopped_early']),
                         machine=dict(meta['machine']),
                         world_hash=str(meta.get('world_hash', '')))
