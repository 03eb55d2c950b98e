"""Mixed precision: float32 against bfloat16/float16 autocast, and why the answer depends on the chip.

``torch.autocast`` runs the convs and matmuls in a 16-bit type and keeps the weights, the optimizer and the
reductions (softmax, loss, BatchNorm statistics) in float32. Two 16-bit types:

- float16 (5 exponent bits): small gradients underflow to 0, so the loss is multiplied by a scale before the
  backward pass and the gradients divided by it before the step (``torch.amp.GradScaler``; the scale halves when
  an inf/NaN appears and grows again after 2000 clean steps). CUDA GPUs with tensor cores (V100 on).
- bfloat16 (float32's 8 exponent bits, 7 mantissa bits): float32's range, so no scaler is needed. Fast where the
  hardware has bf16 units: Ampere GPUs on; CPUs with AVX512_BF16 or AMX (Cooper Lake, Sapphire Rapids, AMD Zen 4).
  Without them a CPU converts bf16 operands to float32 to compute, and autocast usually makes training slower,
  not faster: measure before you switch it on.

``bf16_hardware`` says what this CPU has (``bf16_case`` in words); ``autocast_step_times`` measures it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from torch import nn

from . import timing

BF16_FLAGS = ("avx512_bf16", "amx_bf16")
"""The x86 CPU features (``/proc/cpuinfo`` flags) that compute in bfloat16 natively."""


def bf16_hardware() -> dict:
    """What this machine has for 16-bit training: the CPU's bf16 flags (Linux), oneDNN's verdict on bf16, and
    whether CUDA is there with bf16 (compute capability 8.0 and up)."""
    cpuinfo = Path("/proc/cpuinfo")
    flags = set(cpuinfo.read_text().split()) if cpuinfo.is_file() else set()
    cuda = torch.cuda.is_available()
    return dict(
        cpu_flags=[f for f in BF16_FLAGS if f in flags],
        cpu_flags_known=cpuinfo.is_file(),
        onednn_bf16=bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()),
        cuda=cuda,
        cuda_bf16=bool(cuda and torch.cuda.is_bf16_supported()),
    )


def bf16_case(hardware: dict) -> str:
    """Which of the two CPU cases a ``bf16_hardware()`` report is, in one sentence."""
    if hardware["cpu_flags"]:
        return f"this CPU has bf16 instructions ({', '.join(hardware['cpu_flags'])}): bf16 runs natively"
    if hardware["cpu_flags_known"]:
        return f"this CPU has no bf16 instructions (none of {', '.join(BF16_FLAGS)}): bf16 is emulated"
    return f"this CPU's instructions are unknown here (no /proc/cpuinfo); oneDNN's bf16: {hardware['onednn_bf16']}"


def autocast_step_times(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, dtypes=(None, torch.bfloat16), repeats: int = 5
) -> pd.DataFrame:
    """Median ms of a forward + backward step of ``model`` on (``x``, ``y``) in float32 (``None``) and under
    autocast to each other dtype, timed in turns (``timing.median_ms_in_turns``: a warm-up round, then
    ``repeats`` rounds of one step of each, so a change in the machine's load hits all of them alike), and each
    one's time relative to float32."""
    names = ["float32" if d is None else f"autocast {str(d).removeprefix('torch.')}" for d in dtypes]
    threads = torch.get_num_threads()
    works = {n: (timing.training_step(model, x, y, dtype=d), threads) for n, d in zip(names, dtypes, strict=True)}
    ms = timing.median_ms_in_turns(works, per=1, repeats=repeats, device=x.device)
    frame = pd.DataFrame({"precision": names, "ms_per_step": [ms[n] for n in names]})
    frame["relative_to_float32"] = frame["ms_per_step"] / frame["ms_per_step"].iloc[0]
    model.zero_grad(set_to_none=True)
    return frame
