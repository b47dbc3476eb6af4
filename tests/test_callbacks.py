"""The training callbacks that are not tested with the trainings they serve."""
from utils.training import callbacks
from utils.training.callbacks import ExpectedTime


def test_expected_time_extrapolates_the_steps_after_the_first_call_then_adds_validation(monkeypatch):
    clock = iter([10.0, 12.0, 14.0, 16.0])  # ends of calls 1 (tracing) and 3; validation from 14 to 16
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: next(clock))
    said = []
    cb = ExpectedTime(epochs_left=3, calls_per_epoch=5, measured=2, report=said.append)
    for batch in range(3):
        cb.on_train_batch_end(batch)
    assert said == ["expected time: 15 s for 3 epochs of 5 steps (1.000 s per step; validation not counted yet)"]
    cb.on_train_batch_end(3)   # no clock read: the step time is known
    cb.on_train_batch_end(4)
    cb.on_test_begin()
    cb.on_epoch_end(0)
    assert said[1] == "expected time: 14 s for the 2 epochs after the first (2.0 s of validation each)"
    cb.on_test_begin()
    cb.on_epoch_end(1)
    assert len(said) == 2   # said once
