#!/usr/bin/env python3
"""Python PyTorch eager float32: the baseline of training_bench.

The same two networks as training_bench.cc (worker/train/model_builder.cc,
layer for layer: the parameter counts are compared), trained the way a
PyTorch user writes it: one data tensor on the device indexed by a shuffled
permutation, torch.optim.SGD (Nesterov momentum 0.9, weight decay 5e-4, its
default multi-tensor implementation), a cosine learning rate set per step.
Writes "network key value" lines for training_bench --baseline.

  python3 eager_baseline.py --device cuda --out baseline.txt [--steps 100]
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 256
SYNTHETIC_IMAGES = 8192


def conv(cin, cout, k, stride, groups=1):
    return nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)


class ReluConvBn(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.conv, self.bn = conv(cin, cout, k, stride), nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(self.conv(F.relu(x)))


class ResidualReduction(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv_a = ReluConvBn(cin, cout, 3, 2)
        self.conv_b = ReluConvBn(cout, cout, 3, 1)
        self.pool = nn.AvgPool2d(2, 2, ceil_mode=True)
        self.shortcut = conv(cin, cout, 1, 1)

    def forward(self, x):
        return self.conv_b(self.conv_a(x)) + self.shortcut(self.pool(x))


EDGE_FROM = [0, 0, 1, 0, 1, 2]
EDGE_TO = [1, 2, 2, 3, 3, 3]


class Cell(nn.Module):
    def __init__(self, c, ops):
        super().__init__()
        edges = []
        for op in ops:
            if op == "nor_conv_3x3":
                edges.append(ReluConvBn(c, c, 3, 1))
            elif op == "nor_conv_1x1":
                edges.append(ReluConvBn(c, c, 1, 1))
            elif op == "skip_connect":
                edges.append(nn.Identity())
            elif op == "avg_pool_3x3":
                edges.append(nn.AvgPool2d(3, 1, 1, count_include_pad=False))
            else:
                edges.append(None)
        self.ops = ops
        self.edges = nn.ModuleList([e for e in edges if e is not None])
        self.slots = []
        i = 0
        for e in edges:
            self.slots.append(None if e is None else i)
            i += e is not None

    def forward(self, x):
        nodes = [x, None, None, None]
        for e, slot in enumerate(self.slots):
            src = nodes[EDGE_FROM[e]]
            if slot is None or src is None:
                continue
            out = self.edges[slot](src)
            to = EDGE_TO[e]
            nodes[to] = out if nodes[to] is None else nodes[to] + out
        return nodes[3] if nodes[3] is not None else torch.zeros_like(x)


class ConvBnRelu(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.conv, self.bn = conv(cin, cout, k, stride), nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, k, expansion, stride):
        super().__init__()
        hidden = cin * expansion
        self.residual = stride == 1 and cin == cout
        self.body = nn.Sequential(
            conv(cin, hidden, 1, 1), nn.BatchNorm2d(hidden), nn.ReLU6(),
            conv(hidden, hidden, k, stride, hidden), nn.BatchNorm2d(hidden),
            nn.ReLU6(), conv(hidden, cout, 1, 1), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.body(x)
        return y + x if self.residual else y


class Network(nn.Module):
    def __init__(self, body, features, classes):
        super().__init__()
        self.body = body
        self.classifier = nn.Linear(features, classes)

    def forward(self, x):
        return self.classifier(self.body(x).mean((2, 3)))


def nb201(in_channels, classes):
    ops = ["nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "skip_connect",
           "nor_conv_3x3", "nor_conv_3x3"]
    c = 16
    layers = [conv(in_channels, c, 3, 1), nn.BatchNorm2d(c)]
    for stage in range(3):
        if stage > 0:
            layers.append(ResidualReduction(c, 2 * c))
            c *= 2
        layers += [Cell(c, ops) for _ in range(5)]
    layers += [nn.BatchNorm2d(c), nn.ReLU()]
    return Network(nn.Sequential(*layers), c, classes)


def chain(in_channels, classes):
    spec = [("ir", 5, 3, 24, 2), ("ir", 5, 3, 24, 1), ("ir", 5, 6, 48, 2),
            ("ir", 5, 6, 48, 1), ("ir", 3, 6, 48, 1)]
    layers = [ConvBnRelu(in_channels, 16, 3, 2)]
    c = 16
    for _, k, e, out, stride in spec:
        layers.append(InvertedResidual(c, out, k, e, stride))
        c = out
    return Network(nn.Sequential(*layers), c, classes)


NETWORKS = {"nb201": (nb201, (3, 32, 32)), "chain": (chain, (1, 28, 28))}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(name, device, steps, repeats, profile_to=None):
    build, (c, h, w) = NETWORKS[name]
    torch.manual_seed(1)
    images = torch.randint(0, 256, (SYNTHETIC_IMAGES, c, h, w),
                           dtype=torch.uint8).to(device)
    labels = torch.randint(0, 10, (SYNTHETIC_IMAGES,)).to(device)
    mean, std = 0.5 * 255, 0.25 * 255
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(0)
    model = build(c, 10).to(device)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9,
                          nesterov=True, weight_decay=5e-4)
    total = steps * (repeats + 1)
    state = {"perm": None, "next": 0, "done": 0}

    def next_batch():
        if state["perm"] is None or state["next"] + BATCH > SYNTHETIC_IMAGES:
            state["perm"] = torch.randperm(SYNTHETIC_IMAGES, device=device)
            state["next"] = 0
        idx = state["perm"][state["next"]:state["next"] + BATCH]
        state["next"] += BATCH
        return idx

    def train(n):
        model.train()
        for _ in range(n):
            idx = next_batch()
            x = (images[idx].float() - mean) / std
            lr = 0.05 * (1 + math.cos(math.pi * state["done"] / total))
            for group in opt.param_groups:
                group["lr"] = lr
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), labels[idx])
            loss.backward()
            opt.step()
            state["done"] += 1

    def evaluate(n):
        model.eval()
        with torch.no_grad():
            for _ in range(n):
                idx = next_batch()
                model((images[idx].float() - mean) / std)

    def rate(run):
        rates = []
        for _ in range(repeats):
            sync(device)
            start = time.perf_counter()
            run(steps)
            sync(device)
            rates.append(steps * BATCH / (time.perf_counter() - start))
        return sorted(rates)[len(rates) // 2]

    train(steps)  # warm-up
    if profile_to is not None:
        from torch.profiler import ProfilerActivity, profile
        activities = [ProfilerActivity.CPU]
        if device.type == "cuda":
            activities.append(ProfilerActivity.CUDA)
        with profile(activities=activities) as prof:
            train(10)
            sync(device)
        sort = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
        profile_to.write(f"== {name}: 10 training steps, Python eager fp32\n")
        profile_to.write(prof.key_averages().table(sort_by=sort, row_limit=15))
        profile_to.write("\n")
    train_rate = rate(train)
    peak = (torch.cuda.max_memory_allocated(device) / 2**20
            if device.type == "cuda" else -1)
    evaluate(steps)
    eval_rate = rate(evaluate)
    return {"train_images_per_s": train_rate, "eval_images_per_s": eval_rate,
            "peak_mib": peak, "params": params}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--networks", default="nb201,chain")
    parser.add_argument("--profile", help="write a torch.profiler table of "
                        "10 training steps per network to this file")
    args = parser.parse_args()
    device = torch.device(args.device)
    profile_to = open(args.profile, "w") if args.profile else None
    with open(args.out, "w") as out:
        for name in args.networks.split(","):
            result = measure(name, device, args.steps, args.repeats,
                             profile_to)
            for key, value in result.items():
                out.write(f"{name} {key} {value}\n")
            print(f"python {torch.__version__} {name}: " + ", ".join(
                f"{k} {v:.0f}" for k, v in result.items()), flush=True)


if __name__ == "__main__":
    main()
