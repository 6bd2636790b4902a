"""Programme groups: cohorts of participants run by facilitators, and their conversation."""
