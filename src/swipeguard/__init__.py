"""swipeguard: face verification of insurance-card swipes at pharmacy and clinic counters."""

__version__ = "0.1.0"
