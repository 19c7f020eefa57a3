"""A model exported by the service (ExportModel: model.json beside a weights
file) loaded into plain PyTorch, so that a trained network runs without the
service, LibTorch or the search's spec.

The modules below mirror worker/train/model_builder.cc module for module:
same submodule names (so that the weights file, written by the C++ network's
named_parameters and named_buffers, loads by name) and the same ops in the
same order (so that the same images give the same logits as the worker).

    from nas_client.model import load_model
    model = load_model("exported")
    print(model.predict(images, top_k=3))  # uint8 [N, C, H, W] or [N, H, W]

    python3 clients/python/nas_client/model.py exported --idx t10k-images-idx3-ubyte

Needs torch and numpy, which the rest of nas_client does not.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import re
import struct
import sys
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy
import torch
from torch import nn
from torch.nn import functional as F

FORMAT = "nas-model/1"
ARCHIVE_MAGIC = b"NASTNSR1"
PathLike = Union[str, os.PathLike]

# NAS-Bench-201 cell edges (common/space/nb201_cell.h), in edge_ops order.
EDGE_FROM = (0, 0, 1, 0, 1, 2)
EDGE_TO = (1, 2, 2, 3, 3, 3)
CELL_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3",
            "avg_pool_3x3")


# --- Tensor archives (common/tensor/tensor_archive.h) ----------------------

def read_tensor_archive(
        source: Union[PathLike, bytes]) -> Dict[str, torch.Tensor]:
    """Parses a tensor archive, from a path or its bytes, refusing what the
    C++ reader refuses (so a file one accepts the other does too)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        data = pathlib.Path(source).read_bytes()
    pos = 0

    def take(n: int, what: str) -> bytes:
        nonlocal pos
        if pos + n > len(data):
            raise ValueError(f"tensor archive: truncated {what} at byte {pos}")
        pos += n
        return data[pos - n:pos]

    if take(8, "magic") != ARCHIVE_MAGIC:
        raise ValueError("tensor archive: not a tensor archive (bad magic)")
    (count,) = struct.unpack("<I", take(4, "count"))
    out: Dict[str, torch.Tensor] = {}
    previous = b""
    for i in range(count):
        (name_bytes,) = struct.unpack("<I", take(4, "name length"))
        if not 1 <= name_bytes <= 1024:
            raise ValueError(f"tensor archive: name length {name_bytes} "
                             f"outside 1..1024 at byte {pos}")
        raw_name = take(name_bytes, "name")
        if i > 0 and raw_name <= previous:
            raise ValueError("tensor archive: tensor names not in strictly "
                             f"increasing order at byte {pos}")
        previous, name = raw_name, raw_name.decode("utf-8")
        (rank,) = struct.unpack("<I", take(4, f"rank of {name}"))
        if rank > 8:
            raise ValueError(f"tensor archive: rank above 8 for {name}")
        shape = struct.unpack(f"<{rank}q", take(8 * rank, f"shape of {name}"))
        if any(d < 0 for d in shape):
            raise ValueError(f"tensor archive: negative dimension in {name}")
        elements = 1
        for d in shape:
            elements *= d
        if elements * 4 > len(data) - pos:
            raise ValueError(f"tensor archive: truncated values of {name} "
                             f"at byte {pos}")
        values = numpy.frombuffer(data, "<f4", elements, pos)
        pos += 4 * elements
        out[name] = torch.from_numpy(values.astype(numpy.float32)).reshape(
            shape)
    if pos != len(data):
        raise ValueError("tensor archive: trailing bytes after the last "
                         f"tensor at byte {pos}")
    return out


def write_tensor_archive(path: Optional[PathLike],
                         tensors: Mapping[str, torch.Tensor]) -> bytes:
    """Serialises `tensors` as f32 in name order; writes them to `path`
    unless it is None; returns the bytes (for their size and SHA-256)."""
    parts = [ARCHIVE_MAGIC, struct.pack("<I", len(tensors))]
    for name in sorted(tensors, key=lambda n: n.encode("utf-8")):
        t = tensors[name].detach().to("cpu", torch.float32).contiguous()
        raw = name.encode("utf-8")
        if not 1 <= len(raw) <= 1024 or t.dim() > 8:
            raise ValueError(f"tensor {name!r}: name or rank out of range")
        parts += [struct.pack("<I", len(raw)), raw,
                  struct.pack(f"<I{t.dim()}q", t.dim(), *t.shape),
                  t.numpy().astype("<f4").tobytes()]
    data = b"".join(parts)
    if path is not None:
        pathlib.Path(path).write_bytes(data)
    return data


def read_idx_images(path: PathLike) -> torch.Tensor:
    """IDX image file (as worker/train/dataset.cc reads MNIST) -> uint8
    [N, C, H, W]: magic 0x00000803 holds [N, H, W] (one channel), and
    0x00000804 [N, C, H, W] for colour images."""
    data = pathlib.Path(path).read_bytes()
    if len(data) < 4 or data[:3] != b"\0\0\x08" or data[3] not in (3, 4):
        raise ValueError(f"{path}: not an IDX image file (magic 0x00000803, "
                         "or 0x00000804 for [N, C, H, W], expected)")
    rank = data[3]
    if len(data) < 4 + 4 * rank:
        raise ValueError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{rank}I", data[4:4 + 4 * rank])
    if len(data) != 4 + 4 * rank + int(numpy.prod(dims)):
        raise ValueError(f"{path}: size does not match its header {dims}")
    pixels = numpy.frombuffer(data, numpy.uint8, offset=4 + 4 * rank)
    images = torch.from_numpy(pixels.reshape(dims).copy())
    return images.unsqueeze(1) if rank == 3 else images


# --- model.json -------------------------------------------------------------

def _snake(value: Any) -> Any:
    """Proto field names whichever way the JSON spelled them: protobuf's
    JSON parser also accepts lowerCamelCase, so a reader must too."""
    if isinstance(value, dict):
        return {re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", k).lower(): _snake(v)
                for k, v in value.items()}
    return [_snake(v) for v in value] if isinstance(value, list) else value


def _int(obj: dict, key: str, field: str, low: int = 0,
         high: int = 2 ** 63 - 1) -> int:
    """An integer field, default 0 when omitted; int64s come as strings."""
    value = obj.get(key, 0)
    try:
        if isinstance(value, bool) or (isinstance(value, float)
                                       and not value.is_integer()):
            raise ValueError
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field}: not an integer: {value!r}") from None
    if not low <= number <= high:
        raise ValueError(f"{field}: must be in [{low}, {high}], got {number}")
    return number


def _f32(value: Any, field: str) -> float:
    """A proto `float` as C++ holds it: rounded to float32, then widened
    (the normalisation multiplies it by 255.0 in double)."""
    try:
        return struct.unpack("<f", struct.pack("<f", float(value)))[0]
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{field}: not a float: {value!r}") from None


def parse_chain_op(op: str) -> Tuple[str, int, int]:
    """("conv", K, 0), ("ir", K, E) or ("skip", 0, 0), as ParseChainOp in
    worker/train/op_names.cc reads an op; ValueError for anything else."""
    if op == "skip":
        return "skip", 0, 0
    m = re.fullmatch(r"conv(\d{1,3})x(\d{1,3})", op)
    if m and m[1] == m[2] and int(m[1]) in range(1, 16, 2):
        return "conv", int(m[1]), 0
    m = re.fullmatch(r"ir_k(\d{1,3})_e(\d{1,3})", op)
    if m and int(m[1]) in range(1, 16, 2) and 1 <= int(m[2]) <= 16:
        return "ir", int(m[1]), int(m[2])
    raise ValueError(f'unknown chain op "{op}"')


def _check_network(net: dict) -> dict:
    bodies = [k for k in ("cell", "chain") if isinstance(net.get(k), dict)]
    if len(bodies) != 1:
        raise ValueError("network: needs cell or chain")
    body, kind = dict(net[bodies[0]]), bodies[0]
    prefix = f"network.{kind}."
    stride = lambda obj, key, field: _int(obj, key, field, 1, 2)  # noqa: E731
    body["stem_stride"] = stride(body, "stem_stride", prefix + "stem_stride")
    if kind == "cell":
        body["channels"] = _int(body, "channels", prefix + "channels", 1)
        body["cells_per_stage"] = _int(body, "cells_per_stage",
                                       prefix + "cells_per_stage", 1)
        ops = list(body.get("edge_ops", []))
        if len(ops) != 6:
            raise ValueError(f"{prefix}edge_ops: needs 6 ops, got {len(ops)}")
        for e, op in enumerate(ops):
            if op not in CELL_OPS:
                raise ValueError(f'{prefix}edge_ops[{e}]: unknown op "{op}"')
        body["edge_ops"] = ops
        return {"cell": body}
    body["stem_channels"] = _int(body, "stem_channels",
                                 prefix + "stem_channels", 1)
    body["head_channels"] = _int(body, "head_channels",
                                 prefix + "head_channels", 0)
    layers = []
    for i, layer in enumerate(body.get("layers", [])):
        field = f"{prefix}layers[{i}]"
        try:
            parse_chain_op(layer.get("op", ""))
        except ValueError as e:
            raise ValueError(f"{field}.op: {e}") from None
        layers.append({"op": layer["op"],
                       "out_channels": _int(layer, "out_channels",
                                            field + ".out_channels", 1),
                       "stride": stride(layer, "stride", field + ".stride")})
    body["layers"] = layers
    return {"chain": body}


def read_manifest(directory: PathLike) -> dict:
    """model.json of an export folder, checked (as NetworkOfManifest checks
    it in C++) and with omitted proto3 defaults filled in."""
    path = pathlib.Path(directory) / "model.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not a model manifest: {e}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: not a model manifest (not a JSON object)")
    m = _snake(raw)
    if m.get("format", "") != FORMAT:
        raise ValueError(f'{path}: format: "{m.get("format", "")}" is not '
                         f"{FORMAT} (exported by another version; export it "
                         "again)")
    try:
        inp = dict(m.get("input", {}))
        for key, high in (("channels", 64), ("height", 4096), ("width", 4096),
                          ("num_classes", 100000)):
            inp[key] = _int(inp, key, f"input.{key}", 1, high)
        inp["mean"] = [_f32(v, "input.mean") for v in inp.get("mean", [])]
        inp["std"] = [_f32(v, "input.std") for v in inp.get("std", [])]
        if not len(inp["mean"]) == len(inp["std"]) == inp["channels"]:
            raise ValueError(
                f"input: needs one mean and one std per channel "
                f"({inp['channels']}), got {len(inp['mean'])} and "
                f"{len(inp['std'])}")
        if not all(s > 0 for s in inp["std"]):
            raise ValueError("input.std: must be positive")
        names = [str(n) for n in m.get("class_names", [])]
        if names and len(names) != inp["num_classes"]:
            raise ValueError(f"class_names: has {len(names)} names for "
                             f"{inp['num_classes']} classes")
        weights = dict(m.get("weights", {}))
        file = str(weights.get("file", ""))
        if not file or pathlib.PurePath(file).is_absolute() or \
                ".." in pathlib.PurePath(file).parts:
            raise ValueError(f"weights.file: {file!r} is not a file name "
                             "inside the export folder")
        sha = str(weights.get("sha256", ""))
        if not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise ValueError(f"weights.sha256: {sha!r} is not lower-case hex "
                             "SHA-256")
        manifest = dict(
            m, format=FORMAT, input=inp, class_names=names,
            search_id=_int(m, "search_id", "search_id"),
            search_name=str(m.get("search_name", "")),
            trial_number=_int(m, "trial_number", "trial_number"),
            trial_kind=m.get("trial_kind", "TRIAL_KIND_UNSPECIFIED"),
            dataset=m.get("dataset", "DATASET_NAME_UNSPECIFIED"),
            network=_check_network(dict(m.get("network", {}))),
            weights={"file": file, "sha256": sha,
                     "size": _int(weights, "size", "weights.size")})
        metrics = dict(m.get("metrics", {}))
        for key in ("params", "flops"):  # int64: JSON strings
            if key in metrics:
                metrics[key] = _int(metrics, key, f"metrics.{key}")
        manifest["metrics"] = metrics
    except (AttributeError, TypeError, KeyError) as e:
        raise ValueError(f"{path}: malformed manifest ({e!r})") from None
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return manifest


# --- The network (worker/train/model_builder.cc) ----------------------------

def _conv(cin: int, cout: int, kernel: int, stride: int, groups: int = 1):
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2,
                     groups=groups, bias=False)


class ReluConvBn(nn.Module):
    """NAS-Bench-201 nor_conv_kxk: ReLU -> conv -> BN."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        super().__init__()
        self.conv = _conv(cin, cout, kernel, stride)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(self.conv(F.relu(x)))


class ResidualReduction(nn.Module):
    """Stride-2 basic block; the 2x2 pool's ceil mode lines odd sizes up
    with the strided conv."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv_a = ReluConvBn(cin, cout, 3, 2)
        self.conv_b = ReluConvBn(cout, cout, 3, 1)
        self.pool = nn.AvgPool2d(2, stride=2, ceil_mode=True)
        self.shortcut = _conv(cin, cout, 1, 1)

    def forward(self, x):
        return self.conv_b(self.conv_a(x)) + self.shortcut(self.pool(x))


class Cell(nn.Module):
    """One NB201 cell. "none" edges are not built; a node that receives
    nothing is zero, edges leaving it are skipped, and a zero output node
    gives zeros."""

    def __init__(self, channels: int, edge_ops: List[str]):
        super().__init__()
        self.edges: List[Tuple[int, int, str]] = []
        for e, op in enumerate(edge_ops):
            if op == "none":
                continue
            module = {
                "skip_connect": lambda: nn.Identity(),
                "nor_conv_1x1": lambda: ReluConvBn(channels, channels, 1, 1),
                "nor_conv_3x3": lambda: ReluConvBn(channels, channels, 3, 1),
                "avg_pool_3x3": lambda: nn.AvgPool2d(
                    3, stride=1, padding=1, count_include_pad=False),
            }[op]()
            name = f"edge{EDGE_TO[e]}_{EDGE_FROM[e]}"
            self.add_module(name, module)
            self.edges.append((EDGE_FROM[e], EDGE_TO[e], name))

    def forward(self, x):
        nodes: List[Optional[torch.Tensor]] = [x, None, None, None]
        for source, target, name in self.edges:
            if nodes[source] is None:
                continue
            out = self._modules[name](nodes[source])
            previous = nodes[target]
            nodes[target] = out if previous is None else previous + out
        return nodes[3] if nodes[3] is not None else torch.zeros_like(x)


class ConvBnRelu(nn.Module):
    """Chain convKxK (and the stem and head): conv -> BN -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        super().__init__()
        self.conv = _conv(cin, cout, kernel, stride)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: expand, depthwise (stride), project; adds the input
    when the shape is kept."""

    def __init__(self, cin: int, cout: int, kernel: int, expansion: int,
                 stride: int):
        super().__init__()
        hidden = cin * expansion
        self.residual = stride == 1 and cin == cout
        self.body = nn.Sequential(  # unnamed: children "0".."7", as in C++
            _conv(cin, hidden, 1, 1), nn.BatchNorm2d(hidden), nn.ReLU6(),
            _conv(hidden, hidden, kernel, stride, hidden),
            nn.BatchNorm2d(hidden), nn.ReLU6(),
            _conv(hidden, cout, 1, 1), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.body(x)
        return y + x if self.residual else y


class Skip(nn.Module):
    """The identity, or a 1x1 conv -> BN projection when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv = self.bn = None
        if stride != 1 or cin != cout:
            self.conv = _conv(cin, cout, 1, stride)
            self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(self.conv(x)) if self.conv is not None else x


def build_body(network: dict, channels_in: int) -> Tuple[nn.Sequential, int]:
    """The Sequential "body" of a checked manifest's network and its output
    channels (the classifier's features)."""
    layers: "OrderedDict[str, nn.Module]" = OrderedDict()
    if "cell" in network:
        net = network["cell"]
        c = net["channels"]
        layers["stem"] = _conv(channels_in, c, 3, net["stem_stride"])
        layers["stem_bn"] = nn.BatchNorm2d(c)
        for stage in range(3):
            if stage > 0:
                layers[f"reduce{stage}"] = ResidualReduction(c, 2 * c)
                c *= 2
            for i in range(net["cells_per_stage"]):
                layers[f"cell{stage}_{i}"] = Cell(c, net["edge_ops"])
        layers["last_bn"] = nn.BatchNorm2d(c)
        layers["last_relu"] = nn.ReLU()
        return nn.Sequential(layers), c
    net = network["chain"]
    c = net["stem_channels"]
    layers["stem"] = ConvBnRelu(channels_in, c, 3, net["stem_stride"])
    for i, layer in enumerate(net["layers"], start=1):
        kind, kernel, expansion = parse_chain_op(layer["op"])
        out, stride = layer["out_channels"], layer["stride"]
        layers[f"layer{i}"] = (
            ConvBnRelu(c, out, kernel, stride) if kind == "conv" else
            InvertedResidual(c, out, kernel, expansion, stride)
            if kind == "ir" else Skip(c, out, stride))
        c = out
    if net["head_channels"] > 0:
        layers["head"] = ConvBnRelu(c, net["head_channels"], 1, 1)
        c = net["head_channels"]
    return nn.Sequential(layers), c


class ExportedModel(nn.Module):
    """The exported network (Network in model_builder.cc: "body", then global
    average pooling, then the linear "classifier"), in eval mode. forward
    takes normalised images [N, C, H, W] (preprocess) and returns logits."""

    def __init__(self, manifest: dict):
        super().__init__()
        self.manifest = manifest
        inp = manifest["input"]
        self.class_names = (list(manifest["class_names"]) or
                            [str(i) for i in range(inp["num_classes"])])
        self.body, features = build_body(manifest["network"], inp["channels"])
        self.classifier = nn.Linear(features, inp["num_classes"])
        self.eval()

    def forward(self, x):
        return self.classifier(self.body(x).mean((2, 3)))

    def preprocess(self, pixels) -> torch.Tensor:
        """Pixels 0..255 (tensor, numpy array or IDX file path; [N, C, H, W],
        or [N, H, W] for one channel) -> float32 (pixel / 255 - mean) / std,
        computed as Dataset::Normalize does for the same float rounding."""
        if isinstance(pixels, (str, os.PathLike)):
            pixels = read_idx_images(pixels)
        if not isinstance(pixels, torch.Tensor):
            pixels = torch.from_numpy(numpy.array(pixels))
        inp = self.manifest["input"]
        x = pixels.unsqueeze(1) if pixels.dim() == 3 else pixels
        want = (inp["channels"], inp["height"], inp["width"])
        if x.dim() != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(
                f"images of shape {list(pixels.shape)} given; the model "
                f"takes [N, {', '.join(map(str, want))}]")
        x = x.to(torch.float32, copy=True)
        for c, (mean, std) in enumerate(zip(inp["mean"], inp["std"])):
            x[:, c].sub_(255.0 * mean).div_(255.0 * std)
        return x

    @torch.no_grad()
    def logits(self, pixels, batch_size: int = 256) -> torch.Tensor:
        """Logits [N, classes] of pixels 0..255, in batches to bound memory."""
        x = self.preprocess(pixels)
        return torch.cat([self(x[i:i + batch_size])
                          for i in range(0, len(x), batch_size)]) \
            if len(x) else torch.zeros(0, len(self.class_names))

    def predict(self, pixels, top_k: int = 3) -> List[List[Tuple[str, float]]]:
        """Per image, the top_k (class name, probability), most likely
        first."""
        probs = torch.softmax(self.logits(pixels), dim=1)
        values, indices = probs.topk(max(1, min(top_k, probs.shape[1])), dim=1)
        return [[(self.class_names[i], p) for i, p in zip(row_i, row_p)]
                for row_i, row_p in zip(indices.tolist(), values.tolist())]


def _listed(names: List[str], limit: int = 8) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def load_weights(model: ExportedModel, tensors: Mapping[str, torch.Tensor],
                 source: str = "weights") -> None:
    """Strict load: the archive must hold exactly the network's parameters
    and running statistics (no step counters), each of the right shape."""
    own = model.state_dict()
    wanted = {k: v for k, v in own.items()
              if not k.endswith("num_batches_tracked")}
    problems = []
    missing = sorted(set(wanted) - set(tensors))
    unexpected = sorted(set(tensors) - set(wanted))
    misshaped = [f"{n} {list(tensors[n].shape)} "
                 f"(network: {list(wanted[n].shape)})"
                 for n in sorted(set(wanted) & set(tensors))
                 if tuple(tensors[n].shape) != tuple(wanted[n].shape)]
    for what, names in (("missing", missing), ("unexpected", unexpected),
                        ("mis-shaped", misshaped)):
        if names:
            problems.append(f"{what}: {_listed(names)}")
    if problems:
        raise ValueError(f"{source} do not fit the network ("
                         + "; ".join(problems) + ")")
    state = {k: v for k, v in own.items() if k not in wanted}
    state.update(tensors)
    model.load_state_dict(state, strict=True)


def load_model(directory: PathLike) -> ExportedModel:
    """Rebuilds and loads an export folder, after checking the weights file's
    size and SHA-256 against the manifest."""
    manifest = read_manifest(directory)
    path = pathlib.Path(directory) / manifest["weights"]["file"]
    data = path.read_bytes()
    if len(data) != manifest["weights"]["size"]:
        raise ValueError(f"{path}: {len(data)} bytes, but model.json says "
                         f"{manifest['weights']['size']} (truncated or "
                         "replaced; export it again)")
    digest = hashlib.sha256(data).hexdigest()
    if digest != manifest["weights"]["sha256"]:
        raise ValueError(f"{path}: SHA-256 {digest} does not match model.json "
                         f"({manifest['weights']['sha256']}): the file is "
                         "damaged or belongs to another export")
    model = ExportedModel(manifest)
    try:
        tensors = read_tensor_archive(data)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    load_weights(model, tensors, str(path))
    return model


def count_parameters(model: nn.Module) -> int:
    """Trainable values (convs, linear, batch-norm scales and shifts): the
    worker's metrics.params; running statistics are not counted."""
    return sum(p.numel() for p in model.parameters())


def export_onnx(model: Union[ExportedModel, PathLike], path: PathLike,
                opset: int = 13) -> pathlib.Path:
    """ONNX of the network: input "input" (normalised, [batch, C, H, W]),
    output "logits"; the batch axis is dynamic."""
    if not isinstance(model, ExportedModel):
        model = load_model(model)
    inp = model.manifest["input"]
    model.eval()
    example = torch.zeros(1, inp["channels"], inp["height"], inp["width"])
    torch.onnx.export(model, example, str(path), input_names=["input"],
                      output_names=["logits"], opset_version=opset,
                      dynamic_axes={"input": {0: "batch"},
                                    "logits": {0: "batch"}})
    return pathlib.Path(path)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m nas_client.model",
        description="Runs an exported model on the images of an IDX file.")
    parser.add_argument("directory", help="export folder (model.json)")
    parser.add_argument("--idx", help="IDX image file (uint8 pixels)")
    parser.add_argument("--count", type=int, help="first N images only")
    parser.add_argument("--logits", action="store_true",
                        help="print logits (9 significant digits) instead "
                             "of the top classes")
    parser.add_argument("--top_k", type=int, default=3)
    parser.add_argument("--onnx", help="also write the network as ONNX here")
    args = parser.parse_args(argv)
    try:
        model = load_model(args.directory)
        if args.onnx:
            export_onnx(model, args.onnx)
        if not args.idx:
            return 0
        images = read_idx_images(args.idx)
        if args.count is not None:
            if not 0 <= args.count <= len(images):
                raise ValueError(f"--count {args.count}: {args.idx} holds "
                                 f"{len(images)} images")
            images = images[:args.count]
        if args.logits:
            for row in model.logits(images).tolist():
                print(" ".join(f"{v:.9g}" for v in row))
        else:
            for i, top in enumerate(model.predict(images, args.top_k)):
                print(f"{i}: " + ", ".join(f"{n} {p:.4f}" for n, p in top))
    except (OSError, ValueError) as e:
        print(f"nas_client.model: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
