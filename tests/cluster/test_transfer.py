"""Chunked, hash-checked transfers and the per-host cache (no Ray needed)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from pipeline.cluster.transfer import HostCache, TransferError, read_chunks, receive
from pipeline.plan.hashing import hash_file


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "voice.wav"
    path.write_bytes(os.urandom(100_000))
    return path


def test_chunks_reassemble_into_the_same_file(payload, tmp_path):
    chunks = list(read_chunks(payload, chunk_bytes=4096))
    assert len(chunks) == 25 and all(len(data) <= 4096 for data, _ in chunks)
    target = tmp_path / "copy.wav"
    assert receive(iter(chunks), target, hash_file(payload)) == 100_000
    assert target.read_bytes() == payload.read_bytes()


def test_a_damaged_chunk_leaves_nothing_behind(payload, tmp_path):
    chunks = list(read_chunks(payload, chunk_bytes=4096))
    data, digest = chunks[3]
    chunks[3] = (bytes([data[0] ^ 0xFF]) + data[1:], digest)  # a random first byte may already be b"X"
    target = tmp_path / "copy.wav"
    with pytest.raises(TransferError, match="chunk 3"):
        receive(iter(chunks), target, hash_file(payload))
    assert not target.exists()


def test_a_file_that_changed_at_the_source_is_refused(payload, tmp_path):
    promised = hash_file(payload)
    payload.write_bytes(os.urandom(100_000))  # edited after the plan hashed it
    target = tmp_path / "copy.wav"
    with pytest.raises(TransferError, match="another content hash"):
        receive(read_chunks(payload, 4096), target, promised)
    assert not target.exists()


def test_a_file_crosses_to_a_host_once(payload, tmp_path):
    cache = HostCache(tmp_path / "cache")
    digest = hash_file(payload)
    calls = []

    def chunks():
        calls.append(1)
        return read_chunks(payload, 4096)

    first = cache.fetch(digest, ".wav", chunks, "media/voice.wav")
    second = cache.fetch(digest, ".wav", chunks, "media/voice.wav")
    assert first == second and first.read_bytes() == payload.read_bytes()
    assert len(calls) == 1
    assert [(e["hash"], e["bytes"]) for e in cache.received()] == [(digest, 100_000)]
    assert not any(cache.tmp.iterdir())


def test_two_jobs_on_one_host_wait_for_one_transfer(payload, tmp_path):
    cache = HostCache(tmp_path / "cache")
    digest = hash_file(payload)
    calls = []

    def slow_chunks():
        calls.append(1)
        for chunk in read_chunks(payload, 4096):
            time.sleep(0.002)
            yield chunk

    threads = [threading.Thread(target=cache.fetch, args=(digest, ".wav", slow_chunks, "v")) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(cache.received()) == 1


def test_an_interrupted_transfer_is_not_in_the_cache(payload, tmp_path):
    cache = HostCache(tmp_path / "cache")
    digest = hash_file(payload)

    def broken():
        chunks = read_chunks(payload, 4096)
        yield next(chunks)
        raise ConnectionError("the controller went away")

    with pytest.raises(ConnectionError):
        cache.fetch(digest, ".wav", broken, "v")
    assert not cache.has(digest, ".wav") and not any(cache.tmp.iterdir()) and cache.received() == []


def test_adopted_outputs_are_found_by_hash(tmp_path):
    cache = HostCache(tmp_path / "cache")
    work = cache.work_folder("ep01-lipsync-")
    out = work / "lipsync.mp4"
    out.write_bytes(b"video" * 100)
    digest, size, path = cache.adopt(out, ".mp4")
    assert size == 500 and path == cache.path(digest, ".mp4") and path.read_bytes() == b"video" * 100
    assert [data for data, _ in read_chunks(path)] == [b"video" * 100]
