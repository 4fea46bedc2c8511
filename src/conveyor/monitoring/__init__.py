"""Monitoring: reference profiles, mergeable window sketches, drift statistics, data quality,
performance with delayed labels and without them, alert rules.

The subpackages are libraries over NumPy arrays and DataFrames; they know nothing of the store or
the server, so serving replicas, the monitor loop and offline reports share one implementation.
"""
