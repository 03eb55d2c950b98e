"""For teachers: student versions of the notebooks, and grading the notebooks students hand in.

- ``assign``    ``python -m vgg_edu assign OUT/``: the student and teacher versions of every notebook
- ``redact``    the student copy of the package: solutions removed, the checks sealed
- ``grade``     ``python -m vgg_edu grade SUBMISSIONS/ --out grades.csv``: every submission run and checked
- ``gradebook`` the answers checked again, the CSV and the markdown report
- ``sandbox``   the cheap protections: a private folder, a fresh package copy, time and memory limits
- ``execute``   one notebook run by nbclient in its folder (the grader's child process)
- ``answers``   what ``exercises.check`` saves for the grader when ``$VGG_EDU_ANSWERS`` is set
- ``recheck``   the saved answers checked again in a process of the grader's own
- ``cli``       the two commands' parsers, light enough for ``python -m vgg_edu``'s start
"""
