"""Data: what the course trains on and how pixels become a model's inputs.

- ``fashion_mnist``  Fashion-MNIST found, read from its IDX files, held in memory, split (train, validation, test)
- ``inputs``         the input contract (``InputSpec``, ``spec_of``), ``to_input`` and on-device ``batches``
- ``augment``        translations, scale jitter and test-time flips on on-device batches
- ``image_folder``   your own images in class subfolders, loaded like Fashion-MNIST
"""
