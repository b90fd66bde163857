"""Card holders: the insured, their cards and their enrolled photos (the template)."""
