"""Drift statistics: pure functions on samples and on bin counts, and streaming classes.

Functions take NumPy-compatible arrays (numeric samples, or count vectors over the same bins)
and validate them; the classes (``PSI``, ``JensenShannon``, ``Hellinger``, ``LInfinity``,
``ChiSquare``) keep fixed-size counts on a reference's bins with ``update(batch) -> self``,
``merge(other)`` and ``value()``, so window sketches merge exactly.
"""

from conveyor.monitoring.stats.binning import CategoryCounts, category_counts, quantile_edges
from conveyor.monitoring.stats.distances import (
    hellinger_from_counts,
    jensen_shannon_from_counts,
    linf_from_counts,
)
from conveyor.monitoring.stats.frequency_tests import (
    TestResult,
    chi2_from_counts,
    z_test_proportions,
)
from conveyor.monitoring.stats.ks import ks_2samp_sorted, ks_2samp_test
from conveyor.monitoring.stats.psi import (
    PSI_ALERT,
    PSI_EPS,
    PSI_WARN,
    psi,
    psi_from_counts,
    psi_level,
)
from conveyor.monitoring.stats.streaming import (
    PSI,
    ChiSquare,
    CountStatistic,
    Hellinger,
    JensenShannon,
    LInfinity,
)
from conveyor.monitoring.stats.wasserstein import (
    normalized_wasserstein,
    wasserstein_distance,
)

__all__ = [
    "PSI",
    "PSI_ALERT",
    "PSI_EPS",
    "PSI_WARN",
    "CategoryCounts",
    "ChiSquare",
    "CountStatistic",
    "Hellinger",
    "JensenShannon",
    "LInfinity",
    "TestResult",
    "category_counts",
    "chi2_from_counts",
    "hellinger_from_counts",
    "jensen_shannon_from_counts",
    "ks_2samp_sorted",
    "ks_2samp_test",
    "linf_from_counts",
    "normalized_wasserstein",
    "psi",
    "psi_from_counts",
    "psi_level",
    "quantile_edges",
    "wasserstein_distance",
    "z_test_proportions",
]
