"""Facilities (pharmacies and clinics) and their tills."""
