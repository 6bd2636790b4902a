"""Video check-ins: lifecycle, safe-space check, evidence, outcome suggestion."""
