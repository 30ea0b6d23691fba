"""Tests of castbot_hikari.bench: figures, floor, stall meter, processes, a tiny end-to-end run."""
