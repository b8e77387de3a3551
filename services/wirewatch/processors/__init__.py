"""Processors: dedupe -> entities -> alert rules, as plain functions plus a Faust app."""
