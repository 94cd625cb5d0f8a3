"""Pure-NumPy twin of ``hookfit._core``: the same names, signatures and formulas.

It is the test oracle for the C kernels and, with the environment variable
``HOOKFIT_IMPLEMENTATION=reference``, a slow but simple fallback for
debugging. It computes in float64 where that makes it the better oracle and
stores results in float32, as the core does. Formulas follow Keras 2
(tf-keras 2.21); see the comments at each one. One module per concern, as in
csrc/.
"""

from hookfit._reference.codes import *  # noqa: F403
from hookfit._reference.codes import _N_SLOTS, EPSILON, f32  # noqa: F401
from hookfit._reference.crc32c import *  # noqa: F403
from hookfit._reference.dataset import *  # noqa: F403
from hookfit._reference.dense import *  # noqa: F403
from hookfit._reference.events import *  # noqa: F403
from hookfit._reference.hook_times import *  # noqa: F403
from hookfit._reference.network import *  # noqa: F403
from hookfit._reference.numerics import *  # noqa: F403
from hookfit._reference.progbar import *  # noqa: F403
from hookfit._reference.shuffle import *  # noqa: F403


def cpu_features() -> str:
    return "numpy-reference"
