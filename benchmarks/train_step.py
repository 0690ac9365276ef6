"""Seconds per training step: LandmarkGAN vs a pix2pix U-Net + PatchGAN built from the same blocks.

The pix2pix step (one U-Net generator, one 70x70 PatchGAN, BCE + 100 * L1) is the floor;
the ratio shows what the two-stage model (G_l + landmark image + G_e, dual discriminators
per stage, identity loss) costs on top. Synthetic inputs; the timing does not depend on data.

    python benchmarks/train_step.py                       # 128 and 256 px, batch 1 and 8
    python benchmarks/train_step.py --sizes 64 --batches 1 --repeats 2 --device cuda
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from lgan_cli.device import resolve_device
from lgan_cli.models.blocks import PatchDiscriminator, UNetDecoder, UNetEncoder, init_weights
from lgan_cli.models.config import ModelConfig
from lgan_cli.train.config import LossConfig, RunConfig, TrainConfig
from lgan_cli.train.trainer import Trainer


class _SyntheticPairs:
    """Random crops and plausible landmark sets; enough for PairData's role in a step."""

    def __init__(self, size: int, count: int = 16):
        generator = torch.Generator().manual_seed(0)
        self.resolution = size
        base = torch.rand(68, 2, generator=generator) * size * 0.5 + size * 0.25
        self.all_points = base + torch.randn(count, 68, 2, generator=generator) * size * 0.01
        self.count = count

    def __len__(self) -> int:
        return self.count

    def batch(self, indices, augment=None, generator=None) -> dict:
        n = len(indices)
        return {
            "source": torch.rand(n, 3, self.resolution, self.resolution) * 2 - 1,
            "target": torch.rand(n, 3, self.resolution, self.resolution) * 2 - 1,
            "source_points": self.all_points[:n].clone(),
            "target_points": self.all_points[:n].clone(),
            "expressions": ["happy"] * n,
            "intensities": [None] * n,
        }


def time_landmarkgan(size: int, batch: int, repeats: int, device: torch.device, width: int, tmp) -> float:
    config = RunConfig(
        model=ModelConfig(
            resolution=size, expressions=("neutral", "happy"), generator_width=width, discriminator_width=width
        ),
        loss=LossConfig(),
        train=TrainConfig(batch_size=batch, device=str(device)),
    )
    data = _SyntheticPairs(size)
    trainer = Trainer(config, tmp, data, device)
    step = data.batch(list(range(batch)))
    return _time(lambda: trainer.train_step(step), repeats, device)


def time_pix2pix(size: int, batch: int, repeats: int, device: torch.device, width: int) -> float:
    encoder = UNetEncoder(3, size, width)
    decoder = UNetDecoder(encoder.widths, 3)
    generator = torch.nn.ModuleDict({"encoder": encoder, "decoder": decoder})
    discriminator = PatchDiscriminator(6, width, layers=3)
    init_weights(generator)
    init_weights(discriminator)
    generator.to(device).train()
    discriminator.to(device).train()
    opt_g = torch.optim.Adam(generator.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), 2e-4, betas=(0.5, 0.999))
    x = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    y = torch.rand(batch, 3, size, size, device=device) * 2 - 1

    def bce(logits, real):
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(real)))

    def step():
        fake = decoder(encoder(x))
        opt_d.zero_grad()
        loss_d = 0.5 * (
            bce(discriminator(torch.cat([y, x], 1)), True) + bce(discriminator(torch.cat([fake.detach(), x], 1)), False)
        )
        loss_d.backward()
        opt_d.step()
        for p in discriminator.parameters():
            p.requires_grad_(False)
        opt_g.zero_grad()
        loss_g = bce(discriminator(torch.cat([fake, x], 1)), True) + 100 * (fake - y).abs().mean()
        loss_g.backward()
        opt_g.step()
        for p in discriminator.parameters():
            p.requires_grad_(True)

    return _time(step, repeats, device)


def _time(step, repeats: int, device: torch.device) -> float:
    step()  # warm-up (allocations, kernel selection)
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--width", type=int, default=64, help="generator and discriminator width (paper: 64)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    device = resolve_device(args.device)
    import tempfile
    from pathlib import Path

    rows = []
    print(f"device {device}, torch threads {torch.get_num_threads()}, width {args.width}")
    print(f"{'size':>5} {'batch':>5} {'LandmarkGAN s/step':>19} {'pix2pix s/step':>15} {'ratio':>6}")
    for size in args.sizes:
        for batch in args.batches:
            with tempfile.TemporaryDirectory() as tmp:
                ours = time_landmarkgan(size, batch, args.repeats, device, args.width, Path(tmp))
            base = time_pix2pix(size, batch, args.repeats, device, args.width)
            rows.append({"size": size, "batch": batch, "landmarkgan_s": ours, "pix2pix_s": base, "ratio": ours / base})
            print(f"{size:>5} {batch:>5} {ours:>19.3f} {base:>15.3f} {ours / base:>6.2f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"device": str(device), "width": args.width, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
