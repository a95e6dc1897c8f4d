"""Settings for every test in the repository: Norq's own and its plugins'."""

from hypothesis import settings

# Unit tests never assert on timings, and Hypothesis's per-example deadline is
# one: on a machine busy with other work it fails examples that are merely slow.
settings.register_profile("norq", deadline=None)
settings.load_profile("norq")
