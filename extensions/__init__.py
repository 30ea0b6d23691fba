"""Lightbulb extensions: Discord glue only, one Loader per feature."""
