"""Making VGG small: structured pruning, int8 quantization, distillation, and what each one saves.

- ``prune``     structured L1-norm channel pruning into a real, narrower VGG
- ``quantize``  int8 post-training quantization, static (calibrated) and dynamic
- ``distill``   knowledge distillation: soft targets with a temperature
- ``measure``   their costs measured together: MACs, parameters, file size, latency, a pruning sweep, VGG's heads
"""
