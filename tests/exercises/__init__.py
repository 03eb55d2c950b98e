"""Each lesson's known-wrong answers (``WRONG``), other right forms (``RIGHT``) and the tests only it needs, beside
its lesson: ``test_lessonNN.py`` for ``vgg_edu/exercises/lessonNN.py``. ``tests/test_exercises.py`` runs the
tests every exercise shares, over the registry ``exercises.EXERCISES``."""
