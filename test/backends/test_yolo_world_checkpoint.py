"""Reading YOLO-World weights files safely: a fake released ultralytics checkpoint and others.

The fake checkpoint is pickled the way ultralytics saves its releases: a dict whose 'model' is a
pickled WorldModel object (fp16) of classes living under ``ultralytics.*`` module paths. Those
modules exist only while the file is written (built here from the released key names and
shapes of yolov8s-worldv2), then they are removed, so the loader must read the file without
them and without running any of its code.
"""

from __future__ import annotations

from collections.abc import Iterator
import os
from pathlib import Path
import sys
import types
from typing import Any

import pytest
import yolo_world_fixtures

torch = pytest.importorskip('torch')
from torch import nn  # noqa: E402

from negas_ros.backends.yolo_world.checkpoint import (  # noqa: E402
    CheckpointError,
    load_network,
    read_checkpoint,
    save_safetensors,
)
from negas_ros.backends.yolo_world.config import config_for_variant  # noqa: E402
from negas_ros.backends.yolo_world.network import YoloWorldNet  # noqa: E402

pytestmark = pytest.mark.model
one_torch_thread = yolo_world_fixtures.one_torch_thread  # tiny models: one torch thread

# yolov8s-worldv2 sizes (facts about the released file, written out here on purpose rather than
# taken from our config code, so that the test checks our code against them).
S_WIDTHS = (32, 64, 128, 256, 512)
S_DEPTHS = (1, 2, 2, 1)
S_NECK = 1
S_HEADS = (4, 2, 4, 8)
S_BOX, S_CLS, EMBED, REG_MAX = 64, 128, 512, 16


def _fake_ultralytics() -> dict[str, types.ModuleType]:
    """Modules ultralytics.nn.{tasks, modules.conv, modules.block, modules.head} with classes
    that have the attribute names and tensor shapes of the released checkpoints."""
    names = ['ultralytics', 'ultralytics.nn', 'ultralytics.nn.tasks', 'ultralytics.nn.modules',
             'ultralytics.nn.modules.conv', 'ultralytics.nn.modules.block',
             'ultralytics.nn.modules.head']
    mods = {name: types.ModuleType(name) for name in names}

    def place(cls: type, module: str) -> type:
        cls.__module__ = module
        cls.__qualname__ = cls.__name__
        setattr(mods[module], cls.__name__, cls)
        return cls

    class Conv(nn.Module):
        def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, act: bool = True) -> None:
            super().__init__()
            self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
            self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
            self.act = nn.SiLU(inplace=True) if act else nn.Identity()

    class Concat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.d = 1

    class Bottleneck(nn.Module):
        def __init__(self, c: int, shortcut: bool) -> None:
            super().__init__()
            self.cv1 = Conv(c, c, 3)
            self.cv2 = Conv(c, c, 3)
            self.add = shortcut

    class C2f(nn.Module):
        def __init__(self, c1: int, c2: int, n: int, shortcut: bool) -> None:
            super().__init__()
            self.c = c2 // 2
            self.cv1 = Conv(c1, 2 * self.c, 1)
            self.cv2 = Conv((2 + n) * self.c, c2, 1)
            self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    class SPPF(nn.Module):
        def __init__(self, c1: int, c2: int) -> None:
            super().__init__()
            self.cv1 = Conv(c1, c1 // 2, 1)
            self.cv2 = Conv(c1 // 2 * 4, c2, 1)
            self.m = nn.MaxPool2d(5, 1, 2)

    class MaxSigmoidAttnBlock(nn.Module):
        def __init__(self, c: int, nh: int) -> None:
            super().__init__()
            self.nh = nh
            self.hc = c // nh
            self.ec = None  # the guide width equals the block width in every released size
            self.gl = nn.Linear(EMBED, c)
            self.bias = nn.Parameter(torch.zeros(nh))
            self.proj_conv = Conv(c, c, 3, act=False)
            self.scale = 1.0

    class C2fAttn(nn.Module):
        def __init__(self, c1: int, c2: int, n: int, nh: int) -> None:
            super().__init__()
            self.c = c2 // 2
            self.cv1 = Conv(c1, 2 * self.c, 1)
            self.cv2 = Conv((3 + n) * self.c, c2, 1)
            self.m = nn.ModuleList(Bottleneck(self.c, False) for _ in range(n))
            self.attn = MaxSigmoidAttnBlock(self.c, nh)

    class BNContrastiveHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.BatchNorm2d(EMBED, eps=1e-3, momentum=0.03)
            self.bias = nn.Parameter(torch.tensor([-10.0]))
            self.logit_scale = nn.Parameter(-1.0 * torch.ones([]))

    class DFL(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(REG_MAX, 1, 1, bias=False).requires_grad_(False)
            self.conv.weight.data[:] = torch.arange(REG_MAX, dtype=torch.float).view(1, -1, 1, 1)
            self.c1 = REG_MAX

    class WorldDetect(nn.Module):
        def __init__(self, ch: tuple[int, int, int]) -> None:
            super().__init__()
            self.nc, self.nl, self.reg_max = 80, 3, REG_MAX
            self.stride = torch.tensor([8.0, 16.0, 32.0])  # a plain attribute, not a buffer
            self.cv2 = nn.ModuleList(nn.Sequential(Conv(c, S_BOX, 3), Conv(S_BOX, S_BOX, 3),
                                                   nn.Conv2d(S_BOX, 4 * REG_MAX, 1)) for c in ch)
            self.cv3 = nn.ModuleList(nn.Sequential(Conv(c, S_CLS, 3), Conv(S_CLS, S_CLS, 3),
                                                   nn.Conv2d(S_CLS, EMBED, 1)) for c in ch)
            self.cv4 = nn.ModuleList(BNContrastiveHead() for _ in ch)
            self.dfl = DFL()

    class WorldModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c64, c128, c256, c512, c1024 = S_WIDTHS
            n2, n4, n6, n8 = S_DEPTHS
            layers = [
                Conv(3, c64, 3, 2), Conv(c64, c128, 3, 2), C2f(c128, c128, n2, True),
                Conv(c128, c256, 3, 2), C2f(c256, c256, n4, True), Conv(c256, c512, 3, 2),
                C2f(c512, c512, n6, True), Conv(c512, c1024, 3, 2), C2f(c1024, c1024, n8, True),
                SPPF(c1024, c1024), nn.Upsample(None, 2, 'nearest'), Concat(),
                C2fAttn(c1024 + c512, c512, S_NECK, S_HEADS[0]), nn.Upsample(None, 2, 'nearest'),
                Concat(), C2fAttn(c512 + c256, c256, S_NECK, S_HEADS[1]), Conv(c256, c256, 3, 2),
                Concat(), C2fAttn(c256 + c512, c512, S_NECK, S_HEADS[2]), Conv(c512, c512, 3, 2),
                Concat(), C2fAttn(c512 + c1024, c1024, S_NECK, S_HEADS[3]),
                WorldDetect((c256, c512, c1024)),
            ]
            for i, layer in enumerate(layers):  # ultralytics tags every layer like this
                layer.i, layer.f, layer.type = i, -1, type(layer).__name__
            self.model = nn.Sequential(*layers)
            self.txt_feats = torch.randn(1, 80, EMBED)  # attribute, not a buffer: not loaded
            self.names = {i: f'class{i}' for i in range(80)}
            self.clip_model = None

    for cls in (Conv, Concat):
        place(cls, 'ultralytics.nn.modules.conv')
    for cls in (Bottleneck, C2f, SPPF, MaxSigmoidAttnBlock, C2fAttn, BNContrastiveHead, DFL):
        place(cls, 'ultralytics.nn.modules.block')
    place(WorldDetect, 'ultralytics.nn.modules.head')
    place(WorldModel, 'ultralytics.nn.tasks')
    return mods


def _randomise(model: nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and not name.endswith('dfl.conv.weight'):
                tensor.copy_(torch.rand(tensor.shape, generator=g) * 0.5 + 0.25)


@pytest.fixture(scope='module')
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A fake yolov8s-worldv2.pt and the fp16 state dict it holds."""
    path = tmp_path_factory.mktemp('ckpt') / 'yolov8s-worldv2.pt'
    mods = _fake_ultralytics()
    sys.modules.update(mods)
    try:
        world = mods['ultralytics.nn.tasks'].WorldModel()  # type: ignore[attr-defined]
        _randomise(world, seed=0)
        world = world.half()
        checkpoint = {
            'date': '2024-02-19T00:00:00', 'version': '8.1.17', 'license': 'AGPL-3.0',
            'docs': 'https://docs.ultralytics.com', 'epoch': -1, 'best_fitness': None,
            'model': world, 'ema': None, 'updates': None, 'optimizer': None,
            'train_args': {'model': 'yolov8s-worldv2.yaml', 'imgsz': 640},
            'train_metrics': {'metrics/mAP50(B)': 0.5}, 'train_results': None,
        }
        torch.save(checkpoint, path)
        state = {k: v.clone() for k, v in world.state_dict().items()}
    finally:
        for name in mods:
            sys.modules.pop(name, None)
    with pytest.raises(ImportError):
        __import__('ultralytics')  # the classes are gone: the loader must do without them
    yield path, state


def test_released_checkpoint_loads_strictly_without_ultralytics(
        released: tuple[Path, dict[str, Any]]) -> None:
    path, state = released
    loaded = read_checkpoint(path)
    assert loaded.config.name == 's'
    assert loaded.config == config_for_variant('s')
    assert loaded.config.bn_eps == pytest.approx(1e-3)  # read from the pickled BatchNorms
    assert 'WorldModel' in loaded.source and "'model'" in loaded.source
    assert set(loaded.state_dict) == set(state)
    net, _ = load_network(path)
    ours = net.state_dict()
    assert set(ours) == set(state)
    for key, value in state.items():
        assert ours[key].dtype in (torch.float32, torch.int64)
        assert torch.equal(ours[key], value.to(ours[key].dtype)), key
    assert torch.equal(ours['model.22.dfl.conv.weight'].flatten(), torch.arange(16.0))
    text = net.prepare_text(torch.randn(2, 512), torch.randn(3, 512))
    with torch.inference_mode():
        out = net.fuse()(torch.rand(1, 3, 64, 64), text)
    assert out.id_logits.shape == (1, 64 + 16 + 4, 2)


def test_torch_weights_only_refuses_the_released_format(
        released: tuple[Path, dict[str, Any]]) -> None:
    # Why we unpickle ourselves: torch's safe loader does not know the ultralytics classes.
    with pytest.raises(Exception, match=r'(?i)weights.only|unsupported global'):
        torch.load(released[0], weights_only=True)


def test_mismatched_weights_are_listed(released: tuple[Path, dict[str, Any]],
                                       tmp_path: Path) -> None:
    state = {k: v.float() for k, v in released[1].items()}
    del state['model.9.cv1.conv.weight']
    state['model.23.extra.weight'] = torch.zeros(3)
    state['model.2.cv1.conv.weight'] = torch.zeros(64, 64, 3, 3)
    path = tmp_path / 'plain.pt'
    torch.save(state, path)
    with pytest.raises(CheckpointError) as info:
        load_network(path)
    message = str(info.value)
    assert 'missing (1): model.9.cv1.conv.weight' in message
    assert 'unexpected (1): model.23.extra.weight' in message
    assert 'model.2.cv1.conv.weight: file (64, 64, 3, 3) vs network (64, 64, 1, 1)' in message


def test_plain_state_dict_and_safetensors_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = YoloWorldNet(config_for_variant('tiny'))
    state = net.state_dict()
    for name, obj in (('sd.pt', state), ('wrapped.pt', {'state_dict': state}),
                      ('ckpt.pt', {'epoch': 3, 'model': state})):
        torch.save(obj, tmp_path / name)
        loaded, info = load_network(tmp_path / name)
        assert info.config.name == 'tiny'
        assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())
    save_safetensors(net, tmp_path / 'w.safetensors')
    loaded, info = load_network(tmp_path / 'w.safetensors')
    assert info.config == net.config
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())


def test_keys_outside_the_detector_are_ignored_and_reported(tmp_path: Path) -> None:
    net = YoloWorldNet(config_for_variant('tiny'))
    state = {**net.state_dict(), 'clip_model.proj': torch.zeros(2)}
    torch.save(state, tmp_path / 'with_clip.pt')
    loaded = read_checkpoint(tmp_path / 'with_clip.pt')
    assert loaded.ignored == ('clip_model.proj',)
    assert 'ignored 1' in loaded.source


class _Evil:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f'touch {self.target}',))


def test_pickled_code_is_never_run(tmp_path: Path) -> None:
    target = tmp_path / 'pwned'
    torch.save({'model': _Evil(target), 'note': eval}, tmp_path / 'evil.pt')
    with pytest.raises(CheckpointError, match='no model weights'):
        read_checkpoint(tmp_path / 'evil.pt')
    assert not target.exists()


def test_unreadable_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match='no such checkpoint'):
        read_checkpoint(tmp_path / 'missing.pt')
    (tmp_path / 'junk.pt').write_bytes(b'not a zip')
    with pytest.raises(CheckpointError, match='not a torch zip archive'):
        read_checkpoint(tmp_path / 'junk.pt')
    torch.save({'weights': torch.zeros(2)}, tmp_path / 'other.pt')
    with pytest.raises(CheckpointError, match=r"no keys starting with 'model\.'"):
        read_checkpoint(tmp_path / 'other.pt')
