#!/usr/bin/env python3
"""PyTorch side of the Burn-only reproduction in tests/benches/models.rs (`conv_layer`): the
Inception module's 3x3 convolution (96 -> 128 channels, 14x14, padding 1) at batch 64,
forward, forward+backward, and each gradient alone (aten's convolution_backward, which
autograd calls), median milliseconds over 20 runs after 3 warm-up runs. Then the max-pools
that `zoo bench --layers` shows to be slow on Flex, forward only, at the shapes they have in
cifar-inception (batch 64) and conv1d-classifier (batch 32)."""

import statistics
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads())
torch.manual_seed(0)
conv = torch.nn.Conv2d(96, 128, 3, padding=1)
x = torch.rand(64, 96, 14, 14, requires_grad=True)


def forward():
    with torch.no_grad():
        conv(x)


def forward_backward():
    conv(x).sum().backward()


dy = torch.ones(64, 128, 14, 14)
xd, w = x.detach(), conv.weight.detach()


def grad(mask):
    return lambda: torch.ops.aten.convolution_backward(
        dy, xd, w, [128], [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask)


relu = torch.nn.functional.relu
pool_in = relu(torch.randn(64, 64, 28, 28))
branch_in = relu(torch.randn(64, 64, 14, 14))
seq_in = relu(torch.randn(32, 16, 498))


def no_grad(f):
    def run():
        with torch.no_grad():
            f()
    return run


for name, f in [("forward", forward), ("forward_backward", forward_backward),
                ("input_grad", grad([True, False, False])),
                ("weight_grad", grad([False, True, False])),
                ("max_pool2d 2x2 [64,64,28,28]", no_grad(lambda: F.max_pool2d(pool_in, 2))),
                ("max_pool2d 3x3 s1 p1 [64,64,14,14]",
                 no_grad(lambda: F.max_pool2d(branch_in, 3, stride=1, padding=1))),
                ("max_pool1d 2 [32,16,498]", no_grad(lambda: F.max_pool1d(seq_in, 2)))]:
    for _ in range(3):
        f()
    times = []
    for _ in range(20):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    print(f"{name}: {statistics.median(times) * 1000:.2f} ms (threads {torch.get_num_threads()})")
