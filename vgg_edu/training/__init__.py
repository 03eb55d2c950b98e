"""Training: small modules, each one part; ``loop.fit`` composes them.

- ``config``       ``FitConfig``: a run's settings as one frozen value (what the CLI, resume and checkpoints read)
- ``recipes``      measured runs: a network and a ``FitConfig``; ``build_model``
- ``loop``         ``fit`` and ``train_step``: forward, loss, backward, step
- ``batches``      ``training_batches``: a training batch (order, flips, shifts, zoom, device, layout), one place
- ``throughput``   what keeps a GPU busy: no waiting on it in a step, the next batch made ahead, CUDA graphs
- ``optim``        the update rule and the learning-rate schedules, each saying when it steps
- ``callbacks``    progress, printed epochs, ``StopTraining``
- ``history``      what a run measured, per epoch and per step
- ``evaluation``   ``predict``, ``evaluate``, the confusion matrix, the most confident mistakes
- ``checkpoint``   the checkpoint format: write, read, load a model, restore a run; ``SaveCheckpoint``
- ``distributed``  torchrun: DistributedDataParallel, the global batch split over processes, rank-0 writes
- ``lr_range``     the learning-rate range test
- ``lessons``      short runs and comparisons for notebooks 01-08, and the model notebooks 05 and 08 load
"""
