"""Processes and devices. The same command runs alone or under ``torchrun`` /
``accelerate launch`` (both export RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT).

We use ``torch.distributed`` and ``DistributedDataParallel`` directly rather than
``accelerate``'s training wrapper: resuming to the same weights needs exact control of
which sequences and masks each process sees and of every RNG state, and the loop has to
normalise losses by counts over all processes. Both launchers work because they set the same
environment variables.
"""

import os
from dataclasses import dataclass
from typing import Optional

import torch
import torch.distributed as dist


@dataclass
class DistContext:
    """Where this process runs.

    rank (int): Global rank (0 is the main process: it logs and writes files).
    world_size (int): Number of processes.
    local_rank (int): Rank on this node (selects the GPU).
    device (torch.device): Device of this process.
    initialised_here (bool): Whether we created the process group (and so destroy it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    initialised_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def select_device(name: str, local_rank: int = 0) -> torch.device:
    """ "auto": this process's GPU if there is one, else CPU; or an explicit device."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    return torch.device(name)


def init_distributed(device: str = "auto") -> DistContext:
    """Join the process group when launched by torchrun / accelerate (WORLD_SIZE > 1)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = select_device(device, local_rank)
    created = False
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
        created = True
    elif dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return DistContext(rank, world_size, local_rank, dev, created)


def shutdown(ctx: DistContext) -> None:
    if ctx.initialised_here and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum over processes (in place; returns the tensor)."""
    if ctx.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def any_process(flag: bool, ctx: DistContext) -> bool:
    """True on every process if ``flag`` is True on any of them."""
    if not ctx.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def weights_max_difference(model: torch.nn.Module, ctx: DistContext) -> float:
    """Largest difference between processes of any parameter's (sum, sum of squares):
    0.0 when every process holds identical weights."""
    if not ctx.distributed:
        return 0.0
    params = [p.detach() for p in model.parameters()]
    stats = torch.stack([torch.stack([p.double().sum(), p.double().pow(2).sum()]) for p in params]).flatten()
    stats = stats.to(ctx.device)
    high, low = stats.clone(), stats.clone()
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    return float((high - low).abs().max().item())


def broadcast_object(obj: Optional[object], ctx: DistContext) -> object:
    """``obj`` from the main process, on every process."""
    if not ctx.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
