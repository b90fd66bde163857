"""Alarms: what an operator must look at, with a kind, a reason and a history."""
