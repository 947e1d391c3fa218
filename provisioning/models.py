"""Filled in by the upload and MIS sync issues."""
