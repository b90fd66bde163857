"""The access record: who saw or changed what, when and why."""
