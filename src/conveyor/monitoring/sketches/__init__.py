"""Fixed-size, mergeable per-window summaries of live traffic, laid on a reference profile.

``WindowSketch`` holds one ``NumericSketch`` or ``CategoricalSketch`` per reference column;
``rollup`` merges windows into minute, hour and day buckets. The building blocks (KLL quantiles,
Misra-Gries frequent items, Chan moments) are usable on their own.
"""

from conveyor.monitoring.sketches.categorical import CategoricalSketch
from conveyor.monitoring.sketches.frequent import FrequentItems
from conveyor.monitoring.sketches.kll import KLLSketch
from conveyor.monitoring.sketches.moments import Moments
from conveyor.monitoring.sketches.numeric import NumericSketch
from conveyor.monitoring.sketches.rollup import Granularity, rollup
from conveyor.monitoring.sketches.window import ColumnSketch, WindowSketch

__all__ = [
    "CategoricalSketch",
    "ColumnSketch",
    "FrequentItems",
    "Granularity",
    "KLLSketch",
    "Moments",
    "NumericSketch",
    "WindowSketch",
    "rollup",
]
