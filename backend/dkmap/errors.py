"""Domain errors raised by the stores the server reads; `dkmap.server.errors` maps them to HTTP.

Storage code raises these (never an HTTP abort), so it stays usable from scripts and tests.
"""


class NotFound(LookupError):
    """A named dataset, metric, built map, item, model or image does not exist; the message names it
    (and the known ones where that helps)."""


class Unavailable(RuntimeError):
    """Stored data exists but cannot be opened (damaged or inconsistent); the details are logged and
    the message says what to do."""
