"""Multi-process training under torchrun: process group, DDP wrapping, rank-0 duties."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_choice: str) -> DistInfo:
    """Join the process group torchrun describes (WORLD_SIZE > 1); a no-op for one process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_choice != "cpu" and torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(local_rank)
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank)


def wrap(module: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    """DistributedDataParallel when distributed (gradients averaged across processes), else as is."""
    if not info.enabled:
        return module
    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, DistributedDataParallel) else module


def no_sync(module: nn.Module):
    """Accumulate gradients locally (the next backward outside this context averages them)."""
    return module.no_sync() if isinstance(module, DistributedDataParallel) else contextlib.nullcontext()


def shared_run_dir(out: Path, name: str, info: DistInfo) -> Path:
    """A new numbered run folder: rank 0 creates it, the other processes learn its path."""
    from lgan_cli.train.runs import new_run_dir

    folder = new_run_dir(out, name) if info.is_main else None
    if info.enabled:
        holder = [str(folder) if folder else None]
        dist.broadcast_object_list(holder, src=0)
        folder = Path(holder[0])
    return folder


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
