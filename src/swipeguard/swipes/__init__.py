"""Swipes: posted by tills, stored durably, verified against the card holder's face."""
