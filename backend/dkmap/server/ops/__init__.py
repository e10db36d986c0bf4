"""Domain operations behind the endpoints, one per module: nearest images, lasso keywords, SPEC.

Each takes the process-wide `Registry` for its cached stores and keeps its own results there.
"""
