"""Text forms of the numbers and times a monitoring report shows.

Missing values (``None``, NaN, inf) all print as an em dash, so a table never shows "nan" and a
reader can tell "not computed" from zero.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from conveyor.monitoring.report_validation import is_number

MISSING = "—"


def finite(value: object) -> float | None:
    """Return ``value`` as a float, or ``None`` when it is missing, NaN or infinite.

    Examples:
        >>> finite(2), finite(float("nan")), finite(None), finite("3")
        (2.0, None, None, None)
    """
    if not is_number(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def format_number(value: object, *, digits: int = 4) -> str:
    """Format a statistic with ``digits`` significant digits; integers keep every digit.

    Examples:
        >>> format_number(0.123456), format_number(12345), format_number(None)
        ('0.1235', '12,345', '—')
    """
    number = finite(value)
    if number is None:
        return MISSING
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:.{digits}g}"


def format_share(value: object) -> str:
    """Format a fraction in [0, 1] as a percentage.

    Examples:
        >>> format_share(0.25), format_share(float("inf"))
        ('25.0 %', '—')
    """
    number = finite(value)
    return MISSING if number is None else f"{100 * number:.1f} %"


def format_time(value: object) -> str:
    """Format epoch milliseconds as a UTC ISO 8601 timestamp (second precision).

    Examples:
        >>> format_time(1714521600000)
        '2024-05-01T00:00:00Z'
    """
    number = finite(value)
    if number is None:
        return MISSING
    moment = datetime.fromtimestamp(number // 1000, tz=UTC)
    return moment.isoformat().replace("+00:00", "Z")
