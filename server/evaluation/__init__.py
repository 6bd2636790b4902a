"""Evaluation (issue 16, section 3): figures per month for evaluators and senior officers, and check-in feedback."""
