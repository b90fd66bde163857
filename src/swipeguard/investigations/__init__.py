"""Investigations: lost cards, a card's timeline, face search, suspects, cases and rules."""
