"""Measurements of the project at organisation scale (not tests); see README, Performance."""
