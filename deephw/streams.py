"""The random streams of a run, in one place.

Every generator of a run is ``numpy.random.default_rng([seed, STREAM, ...])`` with one
of these second entropy words, so that streams never overlap and adding a draw to one
stream leaves the others bit for bit as they were. Training itself (initial weights and
states, mini-batch order, pruning draws) uses ``default_rng(seed)``.
"""

EVAL_STREAM = 1
"""Initial states of evaluations."""

D2D_STREAM = 2
"""Device-to-device variation: device role ``k`` of chip ``seed`` draws from
``default_rng([seed, D2D_STREAM, k])``."""

NOISE_STREAM = 3
"""Device and periphery noise (reads, writes, pulses) of each chip."""

IN_SITU_STREAM = 4
"""Seeds of the Brian2 engine's in-situ coincidence draws."""

PROGRAM_STREAM = 5
"""Write-verify programming of an exported weight program."""

SHARED_STREAM = 100
"""Third entropy word of the variation an Ambrogio cell's devices share."""
