"""What the emulator process reads off an interaction's timeline: ack, final message, settled."""

from __future__ import annotations

import pytest

from castbot_hikari.apply import render
from castbot_hikari.bench.emuproc import click_record, settled
from castbot_hikari.testing.emulator import Interaction

CREATED = "✅ Your application channel has been created: <#1>"


def _interaction() -> Interaction:
    return Interaction(id=1, token="t", guild_id=2, user_id=3, channel_id=4, clock=lambda: 0.0, ack_deadline=3.0)


def test_a_deferred_click_acks_at_the_defer_and_ends_at_the_result_edit() -> None:
    inter = _interaction()
    inter.timeline = [
        (0.001, "dispatched", {}),
        (0.011, "acked", {"type": 5, "flags": 64}),
        (0.9, "original_edited", {"content": render.PROGRESS_CREATING}),
        (2.001, "original_edited", {"content": CREATED}),
    ]
    inter.ack_type, inter.loading, inter.content = 5, False, CREATED
    record = click_record(0.25, inter)
    assert record["ack"] == pytest.approx(0.01)
    assert record["final"] == pytest.approx(2.0)
    assert (record["accepted"], record["ack_type"], record["kind"], record["t"]) == (True, 5, "created", 0.25)
    assert settled(inter)


def test_a_deferred_click_showing_progress_is_not_settled() -> None:
    inter = _interaction()
    inter.timeline = [(0.0, "dispatched", {}), (0.01, "acked", {"type": 5}), (0.9, "original_edited", {})]
    inter.ack_type, inter.loading, inter.content = 5, False, render.PROGRESS_CREATING
    assert click_record(0.0, inter)["final"] is None
    assert not settled(inter)


def test_a_synchronous_answer_in_time_is_ack_and_final_at_once() -> None:
    inter = _interaction()
    inter.timeline = [(0.0, "dispatched", {}), (1.5, "acked", {"type": 4, "flags": 64})]
    inter.ack_type, inter.content = 4, "⏳ Your application is already being created."
    record = click_record(0.0, inter)
    assert record["ack"] == record["final"] == 1.5
    assert record["kind"] == "in progress"


def test_a_late_answer_counts_as_ack_time_but_not_accepted() -> None:
    inter = _interaction()
    inter.timeline = [(0.0, "dispatched", {}), (4.2, "ack_rejected", {"reason": "late", "type": 4})]
    record = click_record(0.0, inter)
    assert record["ack"] == 4.2
    assert (record["accepted"], record["final"], record["kind"]) == (False, None, None)
    assert settled(inter)
