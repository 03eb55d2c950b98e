"""A stand-in for Colab's ``google.colab`` (tests/test_colab_like.py): the Colab-like kernel loads it at start-up, as
Colab's kernel loads the real one, so that a notebook's setup cell (``"google.colab" in sys.modules``) takes its
Colab branch. It provides nothing else: the course uses nothing from the real module."""

STAND_IN = True


def load_ipython_extension(ipython):
    """Loaded with ``--ext=google.colab`` when the kernel starts: importing this module is all it takes."""
