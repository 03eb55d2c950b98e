#!/usr/bin/env bash
# What a session with a CUDA GPU measures, in one run of under 8 minutes (each part has its own time limit):
#   benchmarks/gpu_check.sh                  # log: artifacts/gpu_check.log ($OUT/gpu_check.log when $OUT is set)
# 1. the cuda-marked tests (PyTorch's sync detector on fit's steps; prefetched and compiled steps on CUDA);
# 2. the throughput benchmark at steady state, against d2l's pipeline (without and with cuDNN's search);
# 3. fit's step time on CUDA: plain (prefetch on, the default there), no prefetch, compiled (CUDA graphs);
# 4. the classroom recipe through the CLI (the 5x goal: 146 s of fit on the 2-core CPU).
# Not here (longer together than 8 minutes): the d2l recipe (python -m vgg_edu train --recipe d2l --device cuda,
# then with --val-size 0) and the notebooks in full mode. Results go to docs/benchmarks.md, section 5, and the README.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python )}
OUTDIR=${OUT:-artifacts}
mkdir -p "$OUTDIR"
LOG="$OUTDIR/gpu_check.log"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
part() {  # part SECONDS TITLE COMMAND...: run it with a time limit, its output and its wall time to the log
    local limit=$1 title=$2
    shift 2
    echo "=== $title: $*" | tee -a "$LOG"
    local start=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
    echo "=== $title: exit ${PIPESTATUS[0]} after $((SECONDS - start)) s (limit $limit s)" | tee -a "$LOG"
}
: > "$LOG"
{
    date -u
    git rev-parse --short HEAD 2>/dev/null
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
    "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
    uptime
} 2>&1 | tee -a "$LOG"
part 120 "cuda tests" "$PY" -m pytest -m cuda -q -p no:cacheprovider tests
part 60 "throughput, steady state" "$PY" benchmarks/train_throughput.py --device cuda --warmup 20 --steps 200 \
    --rounds 1 --eval-images 2048
part 60 "throughput, steady state, cuDNN search" "$PY" benchmarks/train_throughput.py --device cuda --warmup 20 \
    --steps 200 --rounds 1 --eval-images 2048 --cudnn-benchmark
part 120 "fit's step on CUDA" "$PY" benchmarks/step_overhead.py --device cuda --variants plain,noprefetch,compile \
    --warmup 20 --steps 200 --rounds 1
part 110 "classroom recipe, CLI" "$PY" -m vgg_edu train --device cuda --quiet --overwrite \
    --checkpoint "$OUTDIR/gpu_check_classroom.pt"
echo "=== done $(date -u), log in $LOG" | tee -a "$LOG"
