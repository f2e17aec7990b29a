"""The compiled value scorer: its notice when it must compile."""


def test_first_call_says_when_it_must_compile(monkeypatch, caplog):
    """A log record (not a warning) before the wait when the scorer is neither compiled
    in this process nor in numba's cache; nothing when it is cached; once per process."""
    import logging
    import types

    from lifevalue.value import scoring_kernel as sk

    def fake(index):
        cache_file = types.SimpleNamespace(_load_index=lambda: index)
        return types.SimpleNamespace(signatures=[],
                                     _cache=types.SimpleNamespace(_cache_file=cache_file))

    caplog.set_level(logging.INFO, logger="lifevalue")
    for index, said in (({}, True), ({"sig": "overload"}, False)):
        monkeypatch.setattr(sk, "score_customers", fake(index))
        monkeypatch.setattr(sk, "_noticed", __import__("threading").Event())
        caplog.clear()
        assert sk.notice_if_compiling() is said
        assert any("compiling" in r.getMessage() for r in caplog.records) is said
        assert sk.notice_if_compiling() is False  # once per process
