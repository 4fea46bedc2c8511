"""Rollout statistics: A/B and sequential tests, champion/challenger reports, step analysis."""
