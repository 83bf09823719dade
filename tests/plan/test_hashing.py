"""The file-hash cache: untouched files are never read twice; changes are always seen."""

from __future__ import annotations

import os

import xxhash

from pipeline.plan.hashing import HashCache, hash_file


def test_hash_is_xxh3_128_of_the_content(tmp_path):
    data = os.urandom(3 * (1 << 22) + 17)  # spans several read chunks
    (tmp_path / "f").write_bytes(data)
    assert hash_file(tmp_path / "f") == xxhash.xxh3_128_hexdigest(data)


def test_cache_persists_and_skips_untouched_files(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"x" * 5000)
    cache_file = tmp_path / ".alpha/cache/hashes.json"
    first = HashCache(tmp_path, cache_file)
    digest = first.hash("a.bin")
    assert first.hashed_bytes == 5000
    first.save()
    second = HashCache(tmp_path, cache_file)
    assert second.hash("a.bin") == digest
    assert second.hashed_bytes == 0


def test_same_size_rewrite_is_detected(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 100)
    cache = HashCache(tmp_path, tmp_path / "cache.json")
    old = cache.hash("a.bin")
    stat = path.stat()
    path.write_bytes(b"y" * 100)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert cache.hash("a.bin") != old


def test_replaced_file_with_same_mtime_is_detected_by_inode(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 100)
    cache = HashCache(tmp_path, tmp_path / "cache.json")
    old = cache.hash("a.bin")
    stat = path.stat()
    other = tmp_path / "b.bin"
    other.write_bytes(b"z" * 100)
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(other, path)
    assert cache.hash("a.bin") != old


def test_damaged_cache_is_reported_and_rebuilt(tmp_path, capsys):
    (tmp_path / "a.bin").write_bytes(b"data")
    cache_file = tmp_path / "cache.json"
    cache_file.write_text("{not json")
    cache = HashCache(tmp_path, cache_file)
    assert cache.hash("a.bin") == xxhash.xxh3_128_hexdigest(b"data")
    assert "hash cache" in capsys.readouterr().err
    cache.save()
    assert HashCache(tmp_path, cache_file).hash("a.bin") == cache.hash("a.bin")
