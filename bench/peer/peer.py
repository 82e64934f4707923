#!/usr/bin/env python3
"""PyTorch peer of `zoo bench`: the same architectures (same shapes, same parameter counts,
checked), the same batch, the same step (forward, cross-entropy, backward, global gradient
norm, Adam step), timed the same way (warm-up apart, median over the measured steps)."""

import argparse
import json
import statistics
import time

import torch
from torch import nn
import torch.nn.functional as F

# Parameter counts asserted in burn-zoo's tests (tests/seed_facts.rs).
EXPECTED_PARAMS = {
    "conv-gap": 4,
    "conv1d-classifier": 497_349,
    "binary-cnn": 1_492_225,
    "pointwise-conv": 2_080,
    "cifar-inception": 787_642,
}

# Module names follow the Burn models' field names, so that a state dict is named as
# `zoo export` writes it and `zoo import` reads it (no renaming table anywhere).


class ConvGap(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 2, bias=False)

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3))


class PointwiseConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(64, 32, 1)

    def forward(self, x):
        return F.relu(self.conv(x))


class ReducedConv(nn.Module):
    def __init__(self, cin, mid, out, k):
        super().__init__()
        self.reduce = nn.Conv2d(cin, mid, 1)
        self.conv = nn.Conv2d(mid, out, k, padding=k // 2)

    def forward(self, x):
        return F.relu(self.conv(F.relu(self.reduce(x))))


class PoolBranch(nn.Module):
    def __init__(self, cin, out):
        super().__init__()
        self.proj = nn.Conv2d(cin, out, 1)

    def forward(self, x):
        return F.relu(self.proj(F.max_pool2d(x, 3, stride=1, padding=1)))


class Inception(nn.Module):
    def __init__(self, cin=64):
        super().__init__()
        self.branch1x1 = nn.Conv2d(cin, 64, 1)
        self.branch3x3 = ReducedConv(cin, 96, 128, 3)
        self.branch5x5 = ReducedConv(cin, 16, 32, 5)
        self.branch_pool = PoolBranch(cin, 32)

    def forward(self, x):
        b1 = F.relu(self.branch1x1(x))
        return torch.cat([b1, self.branch3x3(x), self.branch5x5(x), self.branch_pool(x)], 1)


class CifarInception(nn.Module):
    """in_channels=1, image_size=28 for configs/fashion-inception.toml."""

    def __init__(self, in_channels=3, image_size=32, num_classes=10):
        super().__init__()
        side = ((image_size - 4) // 2 - 3) // 2 + 1 - 2
        self.conv1 = nn.Conv2d(in_channels, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.inception = Inception(64)
        self.conv3 = nn.Conv2d(256, 128, 3, stride=2)
        self.conv4 = nn.Conv2d(128, 256, 3)
        self.output = nn.Linear(256 * side * side, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = self.inception(x)
        x = F.relu(self.conv4(F.relu(self.conv3(x))))
        return self.output(x.flatten(1))


class Conv1dClassifier(nn.Module):
    def __init__(self, in_channels=7, length=500, num_classes=5):
        super().__init__()
        for kernel in (3, 5, 5):
            length = (length - kernel + 1) // 2
        self.conv1 = nn.Conv1d(in_channels, 16, 3)
        self.conv2 = nn.Conv1d(16, 32, 5)
        self.conv3 = nn.Conv1d(32, 64, 5)
        self.dense = nn.Linear(64 * length, 128)
        self.output = nn.Linear(128, num_classes)

    def forward(self, x):
        for conv in (self.conv1, self.conv2, self.conv3):
            x = F.max_pool1d(F.relu(conv(x)), 2)
        return self.output(F.relu(self.dense(x.flatten(1))))


class ConvBlock(nn.Module):
    def __init__(self, cin, out, k):
        super().__init__()
        self.conv = nn.Conv2d(cin, out, k)


class BinaryCnn(nn.Module):
    def __init__(self, in_channels=1, image_size=256):
        super().__init__()
        for kernel in (5, 5, 3, 3):
            image_size = (image_size - kernel + 1) // 2
        self.blocks = nn.ModuleList(
            [ConvBlock(in_channels, 16, 5), ConvBlock(16, 32, 5), ConvBlock(32, 64, 3), ConvBlock(64, 128, 3)]
        )
        self.drops = [0.5, 0.4, 0.3, 0.2]
        self.dense1 = nn.Linear(128 * image_size * image_size, 64)
        self.dense2 = nn.Linear(64, 32)
        self.output = nn.Linear(32, 1)

    def forward(self, x):
        x = x / 255.0
        for block, p in zip(self.blocks, self.drops):
            x = F.dropout(F.max_pool2d(F.relu(block.conv(x)), 2), p, self.training)
        x = F.dropout(F.relu(self.dense1(x.flatten(1))), 0.2, self.training)
        return self.output(F.relu(self.dense2(x)))


# The benchmarked models: (class, input shape channels first, classes).
MODELS = {
    "cifar-inception": (CifarInception, (3, 32, 32), 10),
    "conv1d-classifier": (Conv1dClassifier, (7, 500), 5),
    "binary-cnn": (BinaryCnn, (1, 256, 256), 2),
}

# Every model, for weights in and out (tests/fixtures/weights/make.py): class, input shape.
ALL_MODELS = {
    "conv-gap": (ConvGap, (1, 3, 3)),
    "conv1d-classifier": (Conv1dClassifier, (7, 500)),
    "binary-cnn": (BinaryCnn, (1, 256, 256)),
    "pointwise-conv": (PointwiseConv, (64, 28, 28)),
    "cifar-inception": (CifarInception, (3, 32, 32)),
}


def throughput(seconds, batch):
    rates = sorted(batch / s for s in seconds)
    return {"median": statistics.median(rates), "min": rates[0], "max": rates[-1], "steps": len(rates)}


def time_epochs(model, optim, args, shape, classes, device, sync):
    """Two whole epochs over `--epoch-items` images kept as uint8 on the host, shuffled, each
    batch scaled to [0, 1] and copied to the device: the plain PyTorch loop (no DataLoader
    workers), with the same step as above. Epoch 2 is the number; epoch 1 includes warm-up."""
    gen = torch.Generator().manual_seed(11)
    images = torch.randint(0, 256, (args.epoch_items, *shape), generator=gen, dtype=torch.uint8)
    labels = torch.randint(0, classes, (args.epoch_items,), generator=gen)
    model.train()
    out = []
    for _ in range(2):
        order = torch.randperm(args.epoch_items, generator=gen)
        sync()
        start = time.perf_counter()
        for first in range(0, args.epoch_items, args.batch):
            index = order[first:first + args.batch]
            inputs = images[index].to(device).float().div_(255)
            targets = labels[index].to(device)
            loss = F.cross_entropy(model(inputs), targets)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.norm(torch.stack([p.grad.norm() for p in model.parameters()])).item()
            optim.step()
        sync()
        seconds = time.perf_counter() - start
        out.append({"items": args.epoch_items, "seconds": seconds, "items_per_second": args.epoch_items / seconds})
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="0: all cores")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--epoch-items", type=int, default=0,
                        help="also time whole epochs over this many stored uint8 images (as `zoo train` does)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    make, shape, classes = MODELS[args.model]
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    model = make().to(device)
    params = sum(p.numel() for p in model.parameters())
    if params != EXPECTED_PARAMS[args.model]:
        raise SystemExit(f"{args.model}: {params} parameters, burn-zoo has {EXPECTED_PARAMS[args.model]}")
    optim = torch.optim.Adam(model.parameters(), lr=1e-6, eps=1e-8)
    gen = torch.Generator().manual_seed(7)
    x = lambda: torch.rand((args.batch, *shape), generator=gen).to(device)
    y = lambda: torch.randint(0, classes, (args.batch,), generator=gen).to(device)

    def step():
        inputs, targets = x(), y()
        sync()
        start = time.perf_counter()
        logits = model(inputs)
        if classes == 2 and logits.shape[1] == 1:
            loss = F.binary_cross_entropy_with_logits(logits[:, 0], targets.float())
        else:
            loss = F.cross_entropy(logits, targets)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.norm(torch.stack([p.grad.norm() for p in model.parameters()]))
        norm.item()
        optim.step()
        sync()
        return time.perf_counter() - start

    model.train()
    warm = sum(step() for _ in range(max(args.warmup, 1)))
    train = [step() for _ in range(args.steps)]
    model.eval()

    def infer():
        inputs = x()
        sync()
        start = time.perf_counter()
        with torch.no_grad():
            model(inputs)
        sync()
        return time.perf_counter() - start

    infer_warm = sum(infer() for _ in range(max(args.warmup, 1)))
    inference = [infer() for _ in range(args.steps)]
    epochs = time_epochs(model, optim, args, shape, classes, device, sync) if args.epoch_items else None
    print(json.dumps({
        "model": args.model,
        "params": params,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "report": {
            "batch": args.batch,
            "train_warmup_seconds": warm,
            "train": throughput(train, args.batch),
            "infer_warmup_seconds": infer_warm,
            "infer": throughput(inference, args.batch),
        },
        "epochs": epochs,
    }, indent=2))


if __name__ == "__main__":
    main()
