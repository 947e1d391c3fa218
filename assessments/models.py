"""Filled in by the assessments issue."""
