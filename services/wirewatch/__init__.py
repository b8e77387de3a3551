"""Wirewatch: event-streaming news monitoring.

Sources (``wirewatch.pollers``) publish raw items, processors
(``wirewatch.processors``) dedupe, tag and match them, sinks
(``wirewatch.sinks``) index, notify and expose metrics. ``wirewatch.core``
holds what they share; ``wirewatch.bus`` the Kafka and in-process adapters.
"""

__version__ = "0.1.0"
