"""Read YOLO-World v2 weights without running pickled code, and load them strictly.

Accepted files
    - the released ultralytics ``yolov8{s,m,l,x}-worldv2.pt`` (and checkpoints trained with
      ultralytics): a torch zip archive whose pickle holds a dict with ``'model'`` (or ``'ema'``)
      being a pickled ``ultralytics.nn.tasks.WorldModel`` object, weights in fp16;
    - a torch zip archive holding a plain state dict (or a dict with ``'state_dict'`` /
      ``'model_state_dict'`` / ``'model'`` mapping names to tensors);
    - a ``.safetensors`` file (ours carries the architecture as JSON metadata; without it the
      sizes are read from the tensor shapes).

Pickles written by ultralytics itself, as they come:
    - plain ``pickle`` or ``dill`` pickles: ultralytics 8.1/8.2 replaced ``torch.save`` by a
      wrapper that pickles with ``dill`` whenever dill is installed (the era of the released
      ``*-worldv2.pt`` files). For classes it can import, dill writes the same references as
      pickle; the one dill-only global such a file names is ``dill._dill._load_type``, which dill
      uses for builtin types (e.g. ``_load_type('set')([])`` for every module's
      ``_non_persistent_buffers_set``). We answer it from a fixed table of builtin types that
      are harmless to call (``set``, ``dict``, ``int``, ...); any other name becomes an inert
      stand-in, and every other dill helper (``_create_function``, ``_create_code``,
      ``_create_type``, ``_import_module``, ``_get_attr``, ``_eval_repr``, ...) is stubbed like
      any unknown global, so dill never gets to build a function, a class or a module. dill is
      never imported.
    - zero-element tensors: ultralytics' ``.half()`` (done when a checkpoint is stripped) also
      converts the head's ``anchors`` / ``strides``, which are ``torch.empty(0)`` until the model
      has run once, so the archive holds empty storages. They are plain attributes of the head
      (its ``__dict__``), not buffers, so they are read but not loaded: only ``_parameters``
      and ``_buffers`` make the state dict.

YOLO-World v1 files (``yolov8{s,m,l,x}-world.pt``: an ``ImagePoolingAttn`` at layer 16, the
text-guided blocks at 12/15/19/22 and a head without BatchNorm at 23) are refused with a clear
error naming the matching v2 file.

Safety: our own unpickler (never ``torch.load``'s full unpickler) rebuilds tensors from the
archive's raw storages with a handful of allow-listed torch functions; every other global the
pickle names (ultralytics classes, torch.nn modules, os.system, ...) becomes an inert stand-in
object that only records its arguments and state. Nothing from the file is ever called (the only
callables handed out are our tensor rebuilders and a few builtin types: calling them builds
plain data), so a malicious file cannot run code; the stand-ins let us walk the pickled module
tree (``_modules``, ``_parameters``, ``_buffers``) to collect the state dict, and read each
BatchNorm's ``eps``, which a state dict does not carry. (``torch.load(weights_only=True)``
refuses these files, since ultralytics classes are not on its allow list; allow-listing them
with ``add_safe_globals`` needs the classes themselves, i.e. installing AGPL ultralytics, or
stand-ins registered under their names, which is what this module does with less machinery.)

Mapping: key names are those of the released checkpoints (``model.0.conv.weight`` ...), so the
mapping is the identity; the check is strict on keys and shapes, and the error lists every
missing, unexpected and mismatched key. Keys outside ``model.`` (e.g. a cached CLIP model a
trainer attached) are ignored and reported. ``num_batches_tracked`` may be absent.
"""

from __future__ import annotations

import _compat_pickle
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
import io
import logging
import os
from pathlib import Path
import pickle
from typing import Any
import zipfile

import torch

from negas_ros.backends.yolo_world.config import YoloWorldConfig, config_from_shapes
from negas_ros.backends.yolo_world.network import YoloWorldNet

__all__ = [
    'CONFIG_METADATA_KEY',
    'CheckpointError',
    'LoadedCheckpoint',
    'load_network',
    'load_state_dict_strict',
    'read_checkpoint',
    'save_safetensors',
]

_LOG = logging.getLogger(__name__)
CONFIG_METADATA_KEY = 'negas_yolo_world_config'
_DETECTOR_PREFIX = 'model.'
_STATE_KEYS = ('model', 'ema', 'state_dict', 'model_state_dict')
# Globals under these module paths are expected in ultralytics files; others are stubbed too,
# but reported, since a weights file has no business naming them.
_EXPECTED_MODULES = (
    'ultralytics.', 'torch.nn.', 'numpy', 'pathlib', 'collections', 'types', 'argparse',
    'datetime', 'clip.', 'copyreg',
)


class CheckpointError(ValueError):
    """A weights file that cannot be read or does not fit the network; says what and why."""


# --------------------------------------------------------------------------- restricted unpickler


class _Stub:
    """Inert stand-in for any class or function a pickle names: records, never runs."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _Stub:
        obj = object.__new__(cls)
        obj.__dict__['_stub_args'] = args
        obj.__dict__['_stub_state'] = None
        obj.__dict__['_stub_items'] = []
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        # (dict, slots) tuples come from classes with __slots__; keep the dict part.
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], dict | None):
            state = state[0] or state[1]
        self.__dict__['_stub_state'] = state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.__dict__['_stub_items'].append((key, value))

    def append(self, value: Any) -> None:
        self.__dict__['_stub_items'].append(value)

    def extend(self, values: Any) -> None:
        self.__dict__['_stub_items'].extend(values)

    @property
    def stub_state(self) -> dict[str, Any]:
        state = self.__dict__['_stub_state']
        return state if isinstance(state, dict) else {}


_STUB_TYPES: dict[tuple[str, str], type[_Stub]] = {}


def _stub_type(module: str, name: str) -> type[_Stub]:
    key = (module, name)
    if key not in _STUB_TYPES:
        _STUB_TYPES[key] = type(name.split('.')[-1], (_Stub,), {'__module__': module,
                                                                 '__qualname__': name})
    return _STUB_TYPES[key]


@dataclass(frozen=True)
class _StorageType:
    dtype: torch.dtype


_STORAGE_DTYPES = {
    'DoubleStorage': torch.float64, 'FloatStorage': torch.float32, 'HalfStorage': torch.float16,
    'BFloat16Storage': torch.bfloat16, 'LongStorage': torch.int64, 'IntStorage': torch.int32,
    'ShortStorage': torch.int16, 'CharStorage': torch.int8, 'ByteStorage': torch.uint8,
    'BoolStorage': torch.bool, 'UntypedStorage': torch.uint8,
}
_DTYPE_NAMES = {
    'float64', 'float32', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8',
    'bool', 'float', 'double', 'half', 'long', 'int',
}


def _rebuild_tensor(storage: Any, offset: int, size: Any, stride: Any, *_: Any) -> torch.Tensor:
    if not isinstance(storage, torch.Tensor):
        raise pickle.UnpicklingError('tensor without a storage from the archive')
    shape = tuple(int(s) for s in size)
    if any(s == 0 for s in shape):  # no elements: nothing to view (the storage may be empty)
        return torch.empty(shape, dtype=storage.dtype)
    try:
        return storage.as_strided(shape, tuple(stride), int(offset))
    except RuntimeError as exc:  # a view outside its storage: a damaged or forged file
        raise pickle.UnpicklingError(f'bad tensor view: {exc}') from None


def _rebuild_parameter(data: Any, *_: Any) -> Any:
    return data  # a Parameter's data; requires_grad and hooks do not matter here


def _rebuild_from_type(func: Any, new_type: Any, args: Any, state: Any) -> Any:
    # Tensor subclasses: only our own rebuild functions can be func (find_class hands out no
    # other callables), so calling it runs no code from the file.
    if func not in (_rebuild_tensor, _rebuild_parameter):
        raise pickle.UnpicklingError('tensor subclass rebuilt by a function we do not allow')
    return func(*args)


_FUNCTIONS: dict[tuple[str, str], Callable[..., Any]] = {
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
    ('torch._utils', '_rebuild_tensor'): _rebuild_tensor,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter,
    ('torch._tensor', '_rebuild_from_type_v2'): _rebuild_from_type,
}
# dill pickles builtin types as dill._dill._load_type(name) (dill.dill before dill 0.3). These
# are the names we resolve: types that build plain data when called with pickled arguments
# (no iteration of a stand-in, no unbounded allocation such as bytes(n)). Any other name
# (FunctionType, CodeType, ModuleType, type, PartialType, ...) becomes an inert stand-in.
_DILL_MODULES = ('dill._dill', 'dill.dill')
_DILL_TYPES: dict[str, type] = {
    'NoneType': type(None), 'bool': bool, 'int': int, 'float': float, 'complex': complex,
    'str': str, 'tuple': tuple, 'list': list, 'dict': dict, 'set': set, 'frozenset': frozenset,
    'slice': slice,
}
_SAFE_BUILTINS: dict[tuple[str, str], Any] = {
    ('collections', 'OrderedDict'): OrderedDict,
    ('builtins', 'set'): set,
    ('builtins', 'frozenset'): frozenset,
    ('builtins', 'slice'): slice,
    ('torch', 'Size'): torch.Size,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(io.BytesIO(data))
        self._archive = archive
        self._prefix = prefix
        self._storages: dict[str, torch.Tensor] = {}
        self.stubbed: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        # Protocol-2 pickles (torch.save's default) use Python 2 names such as __builtin__.set;
        # the stock find_class translates them, ours must too.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        key = (module, name)
        if key in _FUNCTIONS:
            return _FUNCTIONS[key]
        if module in _DILL_MODULES and name == '_load_type':
            return self._dill_load_type
        if key in _SAFE_BUILTINS:
            return _SAFE_BUILTINS[key]
        if module == 'torch' and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == 'torch' and name in _DTYPE_NAMES:
            return getattr(torch, name)
        self.stubbed.add(f'{module}.{name}')
        return _stub_type(module, name)

    def _dill_load_type(self, name: Any) -> Any:
        """dill's _load_type(name): a builtin type from our table, else an inert stand-in."""
        if isinstance(name, str) and name in _DILL_TYPES:
            return _DILL_TYPES[name]
        self.stubbed.add(f'dill._dill._load_type({name!r:.40})')
        return _stub_type('dill._dill._load_type', str(name))

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == 'storage'):
            raise pickle.UnpicklingError(f'unsupported persistent id {pid!r:.80}')
        storage_type, key = pid[1], str(pid[2])
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f'storage of unknown type {storage_type!r:.80}')
        if key not in self._storages:
            try:
                raw = self._archive.read(f'{self._prefix}/data/{key}')
            except KeyError:
                raise pickle.UnpicklingError(f'storage {key} missing from the archive') from None
            if raw:
                tensor = torch.frombuffer(bytearray(raw), dtype=storage_type.dtype)
            else:  # frombuffer refuses empty buffers; ultralytics writes empty anchors/strides
                tensor = torch.empty(0, dtype=storage_type.dtype)
            self._storages[key] = tensor
        return self._storages[key]


def _unpickle_torch_zip(path: Path) -> tuple[Any, set[str]]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise CheckpointError(
            f'{path}: not a torch zip archive (legacy torch files before 1.6 are not supported; '
            're-save with a current torch or convert to safetensors)'
        ) from None
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith('/data.pkl')]
        if len(pickles) != 1:
            raise CheckpointError(f'{path}: expected one data.pkl in the archive, found '
                                  f'{len(pickles)}')
        prefix = pickles[0][: -len('/data.pkl')]
        if f'{prefix}/byteorder' in archive.namelist():
            order = archive.read(f'{prefix}/byteorder').decode().strip()
            if order != 'little':
                raise CheckpointError(f'{path}: byte order {order!r} is not supported')
        unpickler = _RestrictedUnpickler(archive.read(pickles[0]), archive, prefix)
        try:
            obj = unpickler.load()
        except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError,
                IndexError, KeyError, RuntimeError) as exc:
            raise CheckpointError(f'{path}: cannot read the pickle safely: {exc}') from None
    return obj, unpickler.stubbed


# --------------------------------------------------------------------------- state dicts


def _module_state(root: _Stub) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """Walk a pickled nn.Module tree: (state dict, BatchNorm eps by module path)."""
    tensors: dict[str, torch.Tensor] = {}
    eps: dict[str, float] = {}

    def visit(module: _Stub, prefix: str) -> None:
        state = module.stub_state
        skip = state.get('_non_persistent_buffers_set') or set()
        for group in ('_parameters', '_buffers'):
            entries = state.get(group) or {}
            for name, value in dict(entries).items():
                if isinstance(value, torch.Tensor) and name not in skip:
                    tensors[prefix + name] = value
        if type(module).__name__ == 'BatchNorm2d' and isinstance(state.get('eps'), float):
            eps[prefix.rstrip('.')] = float(state['eps'])
        for name, child in dict(state.get('_modules') or {}).items():
            if isinstance(child, _Stub):
                visit(child, f'{prefix}{name}.')

    visit(root, '')
    return tensors, eps


def _is_state_dict(obj: Any) -> bool:
    return (
        isinstance(obj, Mapping)
        and bool(obj)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


@dataclass(frozen=True)
class LoadedCheckpoint:
    """What a weights file holds for the detector.

    state_dict: name -> float tensor, released key names (``model.N....``).
    config: the architecture (from our metadata, or read from the shapes).
    source: a one-line description (file, format, what was ignored).
    ignored: keys outside the detector that were dropped.
    """

    state_dict: dict[str, torch.Tensor]
    config: YoloWorldConfig
    source: str
    ignored: tuple[str, ...] = field(default_factory=tuple)


def read_checkpoint(path: str | os.PathLike[str]) -> LoadedCheckpoint:
    """Read a weights file (formats in the module docstring) without executing its code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'{path}: no such checkpoint file')
    config_json: str | None = None
    eps: dict[str, float] = {}
    if path.suffix == '.safetensors':
        from safetensors import safe_open

        with safe_open(str(path), framework='pt') as f:
            metadata = f.metadata() or {}
            state = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 - not a dict
        config_json = metadata.get(CONFIG_METADATA_KEY)
        fmt = 'safetensors'
    else:
        obj, stubbed = _unpickle_torch_zip(path)
        unexpected = sorted(g for g in stubbed if not g.startswith(_EXPECTED_MODULES))
        if unexpected:
            _LOG.warning('%s names unexpected globals (stubbed, never called): %s', path,
                         ', '.join(unexpected[:10]))
        state, eps, fmt = _find_state(obj, path)
    ignored = tuple(sorted(k for k in state if not k.startswith(_DETECTOR_PREFIX)))
    detector = {k: v for k, v in state.items() if k.startswith(_DETECTOR_PREFIX)}
    if not detector:
        raise CheckpointError(
            f'{path}: no detector weights (no keys starting with {_DETECTOR_PREFIX!r}; found '
            f'{", ".join(sorted(state)[:5]) or "none"})'
        )
    if config_json is None:
        _refuse_v1(detector, path)
    try:
        if config_json is not None:
            config = YoloWorldConfig.from_json(config_json)
        else:
            config = config_from_shapes({k: tuple(v.shape) for k, v in detector.items()})
            values = set(eps.values())
            if len(values) == 1:  # the pickled BatchNorms agree on their epsilon
                config = YoloWorldConfig.from_dict({**config.__dict__, 'bn_eps': values.pop()})
    except ValueError as exc:
        raise CheckpointError(f'{path}: {exc}') from None
    source = f'{path.name} ({fmt}, YOLO-World v2 {config.name})'
    if ignored:
        source += f'; ignored {len(ignored)} non-detector keys'
    return LoadedCheckpoint(detector, config, source, ignored)


# YOLO-World v1 (yolov8-world.yaml) has an ImagePoolingAttn at layer 16 (keys query.*, key.*,
# value.*, proj.*, projections.N.*), which shifts the rest of the neck by one (text-guided blocks
# at 12, 15, 19, 22) and the head to layer 23, whose class heads carry no BatchNorm. In v2
# (yolov8-worldv2.yaml) layer 16 is a plain Conv and the head is layer 22.
_V1_MARKERS = ('model.16.query.', 'model.16.projections.', 'model.23.dfl.')
_V2_HEAD_KEY = 'model.22.dfl.conv.weight'
_SIZE_BY_STEM_WIDTH = {32: 's', 48: 'm', 64: 'l', 80: 'x'}  # output width of layer 0 (Conv)


def _refuse_v1(state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Raise a clear CheckpointError for a YOLO-World v1 state dict (we build v2 only)."""
    if _V2_HEAD_KEY in state or not any(k.startswith(_V1_MARKERS) for k in state):
        return
    stem = state.get('model.0.conv.weight')
    size = _SIZE_BY_STEM_WIDTH.get(int(stem.shape[0])) if stem is not None and stem.ndim else None
    wanted = f'yolov8{size}-worldv2.pt' if size else 'the matching yolov8{s,m,l,x}-worldv2.pt'
    raise CheckpointError(f'{path}: YOLO-World v1 file: only v2 is supported, use {wanted}')


def _find_state(obj: Any, path: Path) -> tuple[dict[str, torch.Tensor], dict[str, float], str]:
    if _is_state_dict(obj):
        return dict(obj), {}, 'state dict'
    if isinstance(obj, _Stub):
        tensors, eps = _module_state(obj)
        if tensors:
            return tensors, eps, f'pickled {type(obj).__module__}.{type(obj).__qualname__}'
    if isinstance(obj, Mapping):
        for key in _STATE_KEYS:
            value = obj.get(key)
            if value is None:
                continue
            if _is_state_dict(value):
                return dict(value), {}, f"state dict under '{key}'"
            if isinstance(value, _Stub):
                tensors, eps = _module_state(value)
                if tensors:
                    kind = f'{type(value).__module__}.{type(value).__qualname__}'
                    return tensors, eps, f"pickled {kind} under '{key}'"
    raise CheckpointError(
        f'{path}: no model weights found (expected a state dict, or a dict with one of '
        f'{", ".join(_STATE_KEYS)} holding a module or a state dict)'
    )


def load_state_dict_strict(net: YoloWorldNet, state: Mapping[str, torch.Tensor],
                           source: str = 'checkpoint') -> None:
    """Copy state into net; every key and shape must match (num_batches_tracked may be absent).

    Raises CheckpointError listing the missing, unexpected and mismatched keys.
    """
    if net.fused:
        raise CheckpointError('load weights before fusing the network')
    expected = net.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith('num_batches_tracked')]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f'{k}: file {tuple(state[k].shape)} vs network {tuple(v.shape)}'
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or mismatched:
        lines = [f'{source} does not fit the YOLO-World network '
                 f'({net.config.name}, widths {net.config.widths}):']
        for title, keys in (('missing', missing), ('unexpected', unexpected),
                            ('shape mismatch', mismatched)):
            if keys:
                shown = keys[:20]
                more = f' ... and {len(keys) - 20} more' if len(keys) > 20 else ''
                lines.append(f'  {title} ({len(keys)}): {", ".join(shown)}{more}')
        raise CheckpointError('\n'.join(lines))
    with torch.no_grad():
        for key, target in expected.items():
            if key in state:
                target.copy_(state[key].to(target.dtype))


def load_network(path: str | os.PathLike[str]) -> tuple[YoloWorldNet, LoadedCheckpoint]:
    """Build the network a weights file describes and load it strictly (eval mode, unfused)."""
    loaded = read_checkpoint(path)
    net = YoloWorldNet(loaded.config).eval()
    load_state_dict_strict(net, loaded.state_dict, source=str(path))
    net.requires_grad_(False)
    return net, loaded


def save_safetensors(net: YoloWorldNet, path: str | os.PathLike[str]) -> Path:
    """Write the (unfused) network's weights with its architecture as metadata."""
    from safetensors.torch import save_file

    if net.fused:
        raise CheckpointError('save the network before fusing it')
    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
    save_file(state, str(path), metadata={CONFIG_METADATA_KEY: net.config.to_json()})
    return path
