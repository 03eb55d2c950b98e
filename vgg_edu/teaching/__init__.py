"""For teachers: student versions of the notebooks, and grading the notebooks students hand in.

- ``assign``      ``python -m vgg_edu assign OUT/``: the student and teacher versions of every notebook
- ``redact``      the student copy of the package: solutions removed, the checks sealed
- ``grade``       ``python -m vgg_edu grade SUBMISSIONS/ --out grades.csv``: every submission run and checked
- ``submissions`` what was handed in: links refused, lessons from the names, duplicates flagged
- ``sandbox``     one run under its limits (time, memory, disk, processes, environment), in a container or bubblewrap
- ``view``        what a sandboxed run sees: the system and the Python read-only, its inputs, its one writable tmpfs
- ``container``   that view as Podman's or Docker's command line, its image, the removal of a submission's containers
- ``bwrap``       that view as bubblewrap's command line, as which user, in which namespaces
- ``execute``     one notebook run by nbclient inside the sandbox, its results handed back as a zip
- ``handback``    how a sandboxed run hands its result back (its standard output, kept for that alone)
- ``answers``     what ``exercises.check`` saves for the grader when ``$VGG_EDU_ANSWERS`` is set: data, or code
- ``recheck``     the saved answers checked again in the grader's process, each code answer's code run apart
- ``serve``       a code answer kept in a sandbox of its own, asked by the grader's check for data only
- ``observe``     what crosses for a code answer (layers, weights, outputs ...) and the stand-in the check is given
- ``gradebook``   verdicts per exercise, the kept notebooks, the CSV and the markdown report
- ``cli``         the two commands' parsers, light enough for ``python -m vgg_edu``'s start
"""
