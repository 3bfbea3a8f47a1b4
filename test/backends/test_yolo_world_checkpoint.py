"""Reading YOLO-World weights files safely: a fake released ultralytics checkpoint and others.

The fake checkpoint is pickled the way ultralytics saves its releases: a dict whose 'model' is a
pickled WorldModel object (fp16) of classes living under ``ultralytics.*`` module paths. Those
modules exist only while the file is written (built here from the released key names and
shapes of yolov8s-worldv2), then they are removed, so the loader must read the file without
them and without running any of its code.

Two details of real ultralytics files are reproduced (checked against files written by
ultralytics 8.2.0 itself): the head's ``anchors`` / ``strides`` are class-level
``torch.empty(0)`` that ultralytics' ``_apply`` override turns into instance attributes when the
model is ``.half()``-ed before it ever ran, so the archive holds empty fp16 storages; and
ultralytics 8.1/8.2 saved with ``dill`` when it was installed, whose pickles name
``dill._dill._load_type`` (e.g. for every module's ``_non_persistent_buffers_set``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import os
from pathlib import Path
import pickle
import pickletools
import sys
import types
from typing import Any
import zipfile

import pytest
import yolo_world_fixtures

torch = pytest.importorskip('torch')
from torch import nn  # noqa: E402

from negas_ros.backends.yolo_world.checkpoint import (  # noqa: E402
    CheckpointError,
    load_network,
    load_state_dict_strict,
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
    for name in names[1:]:  # as in an installed package: each submodule an attribute of its
        parent, _, child = name.rpartition('.')  # parent, so that dill finds the classes by
        setattr(mods[parent], child, mods[name])  # reference (it pickles by value otherwise)

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
        anchors = torch.empty(0)  # class attributes until the first forward, as in ultralytics
        strides = torch.empty(0)

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

        def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> WorldModel:
            # Like ultralytics' models: .half(), .to(...) also convert the head's plain tensor
            # attributes, which makes anchors / strides instance attributes (empty until the
            # model has run) that the pickle then holds.
            super()._apply(fn, *args, **kwargs)
            head = self.model[-1]
            for name in ('stride', 'anchors', 'strides'):
                setattr(head, name, fn(getattr(head, name)))
            return self

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


def _fp16_exact(model: nn.Module, seed: int) -> None:
    """Well-conditioned random weights (torch's default init, BatchNorm statistics and affine
    parameters drawn near 1 and 0) that fp16 holds exactly, so .half() loses nothing and a
    forward gives finite numbers."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith(('running_var', 'bn.weight', 'norm.weight')):
                tensor.copy_(torch.rand(tensor.shape, generator=g) + 0.5)
            elif name.endswith(('running_mean', 'bn.bias', 'norm.bias')):
                tensor.copy_(torch.randn(tensor.shape, generator=g) * 0.1)
            tensor.copy_(tensor.half().float())


def _save_released(path: Path, pickle_module: Any = pickle, seed: int = 0,
                   exact: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write a fake yolov8s-worldv2.pt as ultralytics does (model .half()-ed before any forward,
    then torch.save). Returns (fp32 state before .half(), fp16 state in the file)."""
    mods = _fake_ultralytics()
    sys.modules.update(mods)
    try:
        torch.manual_seed(seed)
        world = mods['ultralytics.nn.tasks'].WorldModel()  # type: ignore[attr-defined]
        if exact:
            _fp16_exact(world, seed)
        else:
            _randomise(world, seed=seed)
        fp32 = {k: v.clone() for k, v in world.state_dict().items()}
        world = world.half()
        checkpoint = {
            'date': '2024-02-19T00:00:00', 'version': '8.1.17', 'license': 'AGPL-3.0',
            'docs': 'https://docs.ultralytics.com', 'epoch': -1, 'best_fitness': None,
            'model': world, 'ema': None, 'updates': None, 'optimizer': None,
            'train_args': {'model': 'yolov8s-worldv2.yaml', 'imgsz': 640},
            'train_metrics': {'metrics/mAP50(B)': 0.5}, 'train_results': None,
        }
        torch.save(checkpoint, path, pickle_module=pickle_module)
        fp16 = {k: v.clone() for k, v in world.state_dict().items()}
    finally:
        for name in mods:
            sys.modules.pop(name, None)
    with pytest.raises(ImportError):
        __import__('ultralytics')  # the classes are gone: the loader must do without them
    return fp32, fp16


@pytest.fixture(scope='module')
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A fake yolov8s-worldv2.pt and the fp16 state dict it holds."""
    path = tmp_path_factory.mktemp('ckpt') / 'yolov8s-worldv2.pt'
    _, state = _save_released(path)
    yield path, state


@pytest.fixture(scope='module')
def exact_pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same fp16-exact model saved with pickle and, if installed, with dill (seed 1)."""
    folder = tmp_path_factory.mktemp('exact')
    fp32, _ = _save_released(folder / 'pickle.pt', pickle, seed=1, exact=True)
    pair: dict[str, Any] = {'fp32': fp32, 'pickle': folder / 'pickle.pt', 'dill': None}
    try:
        import dill
    except ImportError:
        return pair
    _save_released(folder / 'dill.pt', dill, seed=1, exact=True)
    pair['dill'] = folder / 'dill.pt'
    return pair


def _archive(path: Path) -> tuple[bytes, list[zipfile.ZipInfo]]:
    """(data.pkl, storage entries) of a torch zip archive."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith('/data.pkl'))
        storages = [i for i in archive.infolist() if '/data/' in i.filename]
        return archive.read(name), storages


def _globals_named(data: bytes) -> set[str]:
    """'module name' of every global a protocol-2 pickle (torch.save's default) names."""
    return {str(arg) for op, arg, _ in pickletools.genops(data) if op.name == 'GLOBAL'}


def _forward(net: YoloWorldNet) -> Any:
    g = torch.Generator().manual_seed(0)
    text = net.prepare_text(torch.randn(2, EMBED, generator=g), torch.randn(3, EMBED, generator=g))
    with torch.inference_mode():
        return net(torch.rand(1, 3, 64, 64, generator=g), text)


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


def test_half_before_inference_writes_empty_tensors_that_load(exact_pair: dict[str, Any]) -> None:
    path = exact_pair['pickle']
    data, storages = _archive(path)
    # The fixture is what ultralytics writes: the head's anchors / strides as empty fp16
    # storages, in the head's __dict__ (not in _buffers, so not in the state dict).
    assert sum(1 for info in storages if info.file_size == 0) == 2
    assert b'anchors' in data and b'strides' in data
    loaded = read_checkpoint(path)
    assert not any(k.endswith(('anchors', 'strides')) for k in loaded.state_dict)
    net, _ = load_network(path)
    reference = YoloWorldNet(config_for_variant('s')).eval()
    load_state_dict_strict(reference, exact_pair['fp32'])  # the fp32 model before .half()
    ours = net.state_dict()
    assert set(ours) == set(exact_pair['fp32'])
    for key, value in exact_pair['fp32'].items():
        assert torch.equal(ours[key], value), key
    got, want = _forward(net), _forward(reference)
    assert torch.isfinite(want.boxes).all() and torch.isfinite(want.id_logits).all()
    assert torch.equal(got.boxes, want.boxes)
    assert torch.equal(got.id_logits, want.id_logits)


def test_dill_pickled_checkpoint_loads_with_identical_weights(
        exact_pair: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    import dill  # noqa: F401  (requirements/dev.txt; a missing dill must fail, not skip)
    path = exact_pair['dill']
    data, storages = _archive(path)
    names = _globals_named(data)
    # As in the files ultralytics 8.2 writes with dill: the classes by reference, and dill's
    # _load_type for builtin types (set() of every module's _non_persistent_buffers_set).
    assert 'dill._dill _load_type' in names
    assert {n for n in names if n.startswith('dill')} == {'dill._dill _load_type'}
    assert 'ultralytics.nn.tasks WorldModel' in names
    assert sum(1 for info in storages if info.file_size == 0) == 2
    with caplog.at_level('WARNING'):
        from_dill = read_checkpoint(path)
    assert 'unexpected globals' not in caplog.text  # _load_type is answered, not stubbed
    from_pickle = read_checkpoint(exact_pair['pickle'])
    assert from_dill.config == from_pickle.config == config_for_variant('s')
    assert from_dill.config.bn_eps == pytest.approx(1e-3)
    assert set(from_dill.state_dict) == set(from_pickle.state_dict)
    for key, value in from_pickle.state_dict.items():
        assert from_dill.state_dict[key].dtype == value.dtype
        assert torch.equal(from_dill.state_dict[key], value), key
    net, _ = load_network(path)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in exact_pair['fp32'].items())


def _v1_state(v2: dict[str, Any]) -> dict[str, Any]:
    """A YOLO-World v1 state dict (yolov8-world.yaml layout) made from a v2 one: an
    ImagePoolingAttn inserted as layer 16, the later layers shifted by one, and the head's
    class branches without BatchNorm (ContrastiveHead)."""
    out: dict[str, Any] = {}
    for key, value in v2.items():
        parts = key.split('.')
        layer = int(parts[1])
        if layer == 22 and parts[2] == 'cv4' and parts[4] == 'norm':
            continue
        if layer >= 16:
            parts[1] = str(layer + 1)
        out['.'.join(parts)] = value
    text = v2['model.12.attn.gl.weight'].shape[1]  # 512 in the released sizes
    pool = 256  # ImagePoolingAttn width (not scaled by the size in yolov8-world.yaml)
    dtype = v2['model.0.conv.weight'].dtype
    for name in ('query', 'key', 'value'):
        width = text if name == 'query' else pool
        out[f'model.16.{name}.0.weight'] = torch.ones(width, dtype=dtype)
        out[f'model.16.{name}.0.bias'] = torch.zeros(width, dtype=dtype)
        out[f'model.16.{name}.1.weight'] = torch.zeros(pool, width, dtype=dtype)
        out[f'model.16.{name}.1.bias'] = torch.zeros(pool, dtype=dtype)
    out['model.16.proj.weight'] = torch.zeros(text, pool, dtype=dtype)
    out['model.16.proj.bias'] = torch.zeros(text, dtype=dtype)
    for i, layer in enumerate((15, 12, 9)):  # P3, P4, P5 widths
        width = v2[f'model.{layer}.cv2.conv.weight'].shape[0]
        out[f'model.16.projections.{i}.weight'] = torch.zeros(pool, width, 1, 1, dtype=dtype)
        out[f'model.16.projections.{i}.bias'] = torch.zeros(pool, dtype=dtype)
    return out


@pytest.mark.parametrize('size', ['s', 'tiny'])
def test_yolo_world_v1_files_are_refused_clearly(size: str, released: tuple[Path, dict[str, Any]],
                                                tmp_path: Path) -> None:
    v2 = released[1] if size == 's' else YoloWorldNet(config_for_variant('tiny')).state_dict()
    state = _v1_state(v2)
    assert 'model.23.dfl.conv.weight' in state and 'model.22.dfl.conv.weight' not in state
    wanted = ('yolov8s-worldv2.pt' if size == 's'
              else 'the matching yolov8{s,m,l,x}-worldv2.pt')  # no released size: no letter
    for name, obj in (('plain.pt', state), ('wrapped.pt', {'epoch': -1, 'model': state})):
        torch.save(obj, tmp_path / name)
        message = f'{tmp_path / name}: YOLO-World v1 file: only v2 is supported, use {wanted}'
        with pytest.raises(CheckpointError) as info:
            read_checkpoint(tmp_path / name)
        assert str(info.value) == message


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


def test_dill_payload_is_never_run(tmp_path: Path) -> None:
    import dill
    target = tmp_path / 'pwned'

    def touch(path: str) -> int:  # a local function: dill pickles its code, by value
        return os.system(f'touch {path}')

    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return (touch, (str(target),))

    torch.save({'model': Payload()}, tmp_path / 'evil.pt', pickle_module=dill)
    names = _globals_named(_archive(tmp_path / 'evil.pt')[0])
    assert {'dill._dill _create_function', 'dill._dill _create_code'} <= names
    with pytest.raises(CheckpointError):
        read_checkpoint(tmp_path / 'evil.pt')
    assert not target.exists()
    # The payload is live: dill itself would have run it.
    torch.load(tmp_path / 'evil.pt', weights_only=False, pickle_module=dill)
    assert target.exists()


def _write_pickle(path: Path, body: bytes) -> Path:
    """A torch-style zip archive whose data.pkl is body (protocol 0 text)."""
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('archive/data.pkl', body)
        archive.writestr('archive/byteorder', 'little')
    return path


def _dill_call(name: str, *args: bytes, module: bytes = b'dill._dill') -> bytes:
    """Protocol-0 pickle text for dill_module.name(*args); args are pickle texts too."""
    return b'c' + module + b'\n' + name.encode() + b'\n(' + b''.join(args) + b'tR'


def _text(value: str) -> bytes:
    return b'V' + value.encode() + b'\n'


_PAYLOADS: dict[str, Callable[[str], bytes]] = {
    # dill._dill._eval_repr is eval()
    'eval_repr': lambda cmd: _dill_call('_eval_repr', _text(f"__import__('os').system('{cmd}')")),
    # _get_attr(_import_module('os'), 'system')(cmd)
    'import_module': lambda cmd: _dill_call(
        '_get_attr', _dill_call('_import_module', _text('os')), _text('system'))
    + b'(' + _text(cmd) + b'tR',
    # _load_type('PartialType')(os.system, cmd)(): a callable made of a dill type
    'partial_type': lambda cmd: _dill_call(
        '_load_type', _text('PartialType')) + b'(cos\nsystem\n' + _text(cmd) + b'tR)R',
}


@pytest.mark.parametrize('kind', sorted(_PAYLOADS))
def test_dill_helpers_stay_inert(kind: str, tmp_path: Path) -> None:
    target = tmp_path / 'pwned'
    body = b'(dVmodel\n' + _PAYLOADS[kind](f'touch {target}') + b's.'
    path = _write_pickle(tmp_path / 'evil.pt', body)
    with pytest.raises(CheckpointError):
        read_checkpoint(path)
    assert not target.exists()
    import dill  # noqa: F401  (requirements/dev.txt; a missing dill must fail, not skip)
    pickle.loads(body)  # the payload is live with the stock unpickler and dill installed
    assert target.exists()


def test_dill_load_type_gives_plain_builtin_types_only(tmp_path: Path) -> None:
    from negas_ros.backends.yolo_world.checkpoint import _Stub, _unpickle_torch_zip

    body = (b'(d'
            + _text('set') + _dill_call('_load_type', _text('set')) + b'((lp0\nI1\naI2\natRs'
            + _text('old') + _dill_call('_load_type', _text('dict'), module=b'dill.dill')
            + b'(tRs'
            + _text('type') + _dill_call('_load_type', _text('type'))
            + b'(VX\n(t(dtRs'
            + _text('function') + _dill_call('_load_type', _text('FunctionType')) + b's.')
    obj, stubbed = _unpickle_torch_zip(_write_pickle(tmp_path / 'types.pt', body))
    assert obj['set'] == {1, 2} and type(obj['set']) is set
    assert obj['old'] == {} and type(obj['old']) is dict  # dill < 0.3 module name
    assert isinstance(obj['type'], _Stub)  # type('X', (), {}) would build a class: refused
    assert isinstance(obj['function'], type) and issubclass(obj['function'], _Stub)
    assert stubbed == {"dill._dill._load_type('type')", "dill._dill._load_type('FunctionType')"}


def test_unreadable_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match='no such checkpoint'):
        read_checkpoint(tmp_path / 'missing.pt')
    (tmp_path / 'junk.pt').write_bytes(b'not a zip')
    with pytest.raises(CheckpointError, match='not a torch zip archive'):
        read_checkpoint(tmp_path / 'junk.pt')
    torch.save({'weights': torch.zeros(2)}, tmp_path / 'other.pt')
    with pytest.raises(CheckpointError, match=r"no keys starting with 'model\.'"):
        read_checkpoint(tmp_path / 'other.pt')
