"""Training: small modules, each one part; ``loop.fit`` composes them.

- ``config``       ``FitConfig``: a run's settings as one frozen value (what the CLI, resume and checkpoints read)
- ``recipes``      measured runs: a network and a ``FitConfig``; ``build_model``
- ``loop``         ``fit`` and ``train_step``: forward, loss, backward, step
- ``batches``      ``training_batches``: a training batch (order, flips, shifts, zoom, device, layout), one place
- ``throughput``   what keeps a GPU busy: no waiting on it in a step, the next batch made ahead, CUDA graphs
- ``optim``        the update rule and the learning-rate schedules, each saying when it steps
- ``callbacks``    progress, printed epochs, ``StopTraining``
- ``history``      what a run measured, per epoch and per step
- ``evaluation``   ``predict``, ``evaluate``, the confusion matrix, the most confident mistakes, the train/validation
                   accuracy gap measured four ways (``accuracy_gap``)
- ``checkpoint``   the checkpoint format: write, read, load a model, restore a run; ``SaveCheckpoint``
- ``distributed``  torchrun: DistributedDataParallel, the global batch split over processes, rank-0 writes
- ``lr_range``     the learning-rate range test
- ``short_runs``   the short runs the lessons compare: ``train_steps``, ``ablation`` (and by seed), ``summarize``
- ``step_time``    what one training step costs, against the pipeline's resizes and against its MACs
- ``shared_model`` the model notebooks 05 and 08 load (notebook 04's, or a quick one)
"""
