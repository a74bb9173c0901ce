"""Conformance suites that any Forecaster can run, ours and third parties' alike.

>>> from curvecast.testing import check_forecaster
>>> check_forecaster("last_value")  # raises AssertionError naming the failed check
"""

from curvecast.testing._forecaster_checks import check_forecaster, forecaster_checks

__all__ = ["check_forecaster", "forecaster_checks"]
