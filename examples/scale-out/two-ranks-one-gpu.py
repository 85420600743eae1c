"""Can two processes share one GPU through NCCL? Starts a process group of two ranks on cuda:0 and
all-reduces a tensor. Run it with: torchrun --nproc_per_node 2 examples/scale-out/two-ranks-one-gpu.py
Each rank prints whether the all-reduce ran (its result: 3.0 everywhere) or the error NCCL gave."""
import os

import torch
import torch.distributed as dist

rank = int(os.environ["RANK"])
torch.cuda.set_device(0)
try:
    dist.init_process_group("nccl", device_id=torch.device("cuda", 0))
    values = torch.full((4,), float(rank + 1), device="cuda:0")
    dist.all_reduce(values)
    print(f"rank {rank}: all_reduce ran: {values.tolist()}", flush=True)
    dist.destroy_process_group()
except Exception as error:  # NCCL refuses at init; report it in one line, then fail
    print(f"rank {rank}: {type(error).__name__}: {str(error).splitlines()[0]}", flush=True)
    raise
