"""The Keras 2 callback tutorial's four examples, as scripts (run, not imported).

Each ``NN_name.py`` is the code of one example of the tutorial "Writing your
own callbacks" (tf.keras 2), complete and standalone, with only the import
(``import hookfit as keras``) and the data loading changed: hookfit never
downloads, so the data is MNIST when Keras's ``mnist.npz`` is present and
otherwise the UCI handwritten digits shipped with hookfit (said on stderr).
``python -m hookfit.demo`` runs the four in order; ``examples/`` in the
repository links to these same files. The file names start with a digit, so
they cannot be imported by accident: importing one would train a model.
"""
