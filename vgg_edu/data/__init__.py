"""Data: what the course trains on and how pixels become a model's inputs.

- ``image_splits``   ``ImageSplits``, the labelled images every source builds (train, validation and test splits in
                     memory), and ``DataError``, what every source raises when it cannot be used
- ``fashion_mnist``  Fashion-MNIST found, read from its IDX files, loaded as an ``ImageSplits``; ``lesson_data``
- ``image_folder``   your own images in class subfolders, loaded as an ``ImageSplits`` too
- ``sources``        which kind of source a folder is, and how to open, describe and prepare it (the command line's)
- ``inputs``         the input contract (``InputSpec``, ``spec_of``), ``to_input`` and on-device ``batches``
- ``augment``        translations, scale jitter and test-time flips on on-device batches
"""
