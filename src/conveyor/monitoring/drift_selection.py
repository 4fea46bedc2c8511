"""The drift tests ``detect_drift`` knows, and Evidently's automatic choice among them.

The automatic choice reproduces Evidently 0.7's ``_get_default_stattest``
(``evidently/legacy/calculations/stattests/registry.py``) so that decisions can be
cross-checked column by column. Counts are taken after NaN and +/-inf are dropped, and
``n_unique`` is the number of distinct values of reference and current together:

============  ==================  ===========================================================
reference      column kind         test (default threshold, drift when)
============  ==================  ===========================================================
<= 1000 rows   numeric, n > 5      ``ks`` (p-value <= 0.05)
<= 1000 rows   numeric, 3..5       ``chisquare`` (p-value < 0.05)
<= 1000 rows   numeric, n <= 2     ``z`` (p-value < 0.05)
<= 1000 rows   categorical, n > 2  ``chisquare`` (p-value < 0.05)
<= 1000 rows   categorical, <= 2   ``z`` (p-value < 0.05)
> 1000 rows    numeric, n > 5      ``wasserstein``, normalised (distance >= 0.1)
> 1000 rows    numeric, n <= 5     ``jensenshannon`` (distance >= 0.1)
> 1000 rows    categorical         ``jensenshannon`` (distance >= 0.1)
============  ==================  ===========================================================
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from conveyor.errors import InvalidArgumentError

Kind = Literal["numeric", "categorical"]
BOTH: frozenset[Kind] = frozenset(("numeric", "categorical"))

SMALL_REFERENCE_ROWS = 1000
"""Up to this many reference rows Evidently uses p-value tests, beyond it distances."""
FEW_VALUES = 5
"""A numeric column with at most this many distinct values is tested like a categorical one."""


@dataclass(frozen=True)
class StatTest:
    """A drift test: the column kinds it accepts, its default threshold and decision rule."""

    name: str
    kinds: frozenset[Kind]
    default_threshold: float
    is_p_value: bool
    drift_when: Callable[[float, float], bool]

    def is_drift(self, score: float, threshold: float) -> bool:
        """Apply the test's rule (Evidently's, including ``<=`` vs ``<``) to a score."""
        return bool(self.drift_when(score, threshold))


STATTESTS: dict[str, StatTest] = {
    test.name: test
    for test in (
        StatTest("ks", frozenset(("numeric",)), 0.05, True, operator.le),
        StatTest("chisquare", frozenset(("categorical",)), 0.05, True, operator.lt),
        StatTest("z", frozenset(("categorical",)), 0.05, True, operator.lt),
        StatTest("jensenshannon", BOTH, 0.1, False, operator.ge),
        StatTest("wasserstein", frozenset(("numeric",)), 0.1, False, operator.ge),
        StatTest("psi", BOTH, 0.1, False, operator.ge),
        StatTest("hellinger", BOTH, 0.1, False, operator.ge),
        StatTest("linf", BOTH, 0.1, False, operator.ge),
    )
}


def get_stattest(name: str, kind: Kind, column: str) -> StatTest:
    """Return the named test, or raise if it is unknown or does not accept ``kind``."""
    test = STATTESTS.get(name)
    if test is None:
        msg = f"unknown stattest {name!r} for column {column!r}; choose one of "
        msg += ", ".join(sorted(STATTESTS))
        raise InvalidArgumentError(msg, field="stattest")
    if kind not in test.kinds:
        allowed = " or ".join(sorted(test.kinds))
        msg = f"stattest {name!r} takes {allowed} columns but {column!r} is {kind}; pick another"
        raise InvalidArgumentError(msg, field="stattest")
    return test


def default_stattest(kind: Kind, reference_rows: int, n_unique: int) -> StatTest:
    """Evidently 0.7's automatic test for a column (see the table in the module docstring)."""
    if reference_rows <= SMALL_REFERENCE_ROWS:
        if kind == "numeric" and n_unique > FEW_VALUES:
            return STATTESTS["ks"]
        return STATTESTS["chisquare" if n_unique > 2 else "z"]
    if kind == "numeric" and n_unique > FEW_VALUES:
        return STATTESTS["wasserstein"]
    return STATTESTS["jensenshannon"]
