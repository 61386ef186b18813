"""Request turns (services/turns.py): one request thread of a process runs at a time, and a thread
that steps aside lets the others run."""

from __future__ import annotations

import threading

import pytest

from challengeapp.services.turns import TakeTurns, holding_turn, step_aside, turn


def test_step_aside_outside_a_turn_changes_nothing():
    with step_aside():
        assert not holding_turn()
    assert not holding_turn()


def test_a_turn_is_reentrant_and_given_back_on_errors():
    with pytest.raises(RuntimeError), turn():
        with turn():
            assert holding_turn()
        assert holding_turn()
        raise RuntimeError("boom")
    assert not holding_turn()
    # A fresh thread can take the turn: it was given back.
    taken = threading.Event()

    def take() -> None:
        with turn():
            taken.set()

    other = threading.Thread(target=take, daemon=True)
    other.start()
    other.join(5)
    assert taken.is_set()


def test_others_run_while_a_thread_steps_aside_and_it_gets_its_turn_back():
    stepped_aside, others_ran = threading.Event(), threading.Event()
    seen: list[bool] = []

    def waiter() -> None:
        with turn():
            with step_aside():
                assert not holding_turn()
                stepped_aside.set()
                assert others_ran.wait(5)
            seen.append(holding_turn())

    def other() -> None:
        assert stepped_aside.wait(5)
        with turn():  # would wait forever if the waiter still held the turn
            others_ran.set()

    threads = [threading.Thread(target=waiter, daemon=True), threading.Thread(target=other, daemon=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert others_ran.is_set() and seen == [True]


def test_only_one_thread_runs_the_app_at_a_time():
    inside, most = 0, 0
    guard = threading.Lock()

    def app(environ, start_response):
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        threading.Event().wait(0.01)  # a database call: the GIL is free meanwhile
        with guard:
            inside -= 1
        start_response("200 OK", [])
        return [b"ok"]

    wrapped = TakeTurns(app)
    threads = [
        threading.Thread(target=lambda: [wrapped({}, lambda *args: None) for _ in range(5)], daemon=True)
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert most == 1
    assert not holding_turn()
