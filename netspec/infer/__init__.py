"""Static inference: applying operator rules to shapes, and the totals of a network."""

from netspec.infer.infer import Network, Totals, apply, totals

__all__ = ["Network", "Totals", "apply", "totals"]
