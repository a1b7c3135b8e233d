"""A keyed record lands on the partition every Kafka client picks for its key."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st
from salur_kit.partitioner import murmur2, partition_for

pytestmark = pytest.mark.unit


@given(st.binary(max_size=200))
def test_the_hash_is_kafkas_murmur2(key: bytes) -> None:
    assert murmur2(key) == aiokafka_murmur2(key) & 0xFFFFFFFF


@given(key=st.uuids().map(lambda u: str(u).encode()), partitions=st.integers(1, 64))
def test_a_key_goes_to_the_partition_the_java_client_picks(key: bytes, partitions: int) -> None:
    every = list(range(partitions))

    assert partition_for(key, every, every) == DefaultPartitioner()(key, every, every)


def test_known_values_of_the_java_client() -> None:
    # org.apache.kafka.common.utils.UtilsTest#testMurmur2, as unsigned 32-bit numbers.
    cases = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"a-little-bit-longer-string": -1486304829,
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        b"abc": 479470107,
    }
    for key, signed in cases.items():
        assert murmur2(key) == signed & 0xFFFFFFFF, key


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    assert {partition_for(None, [0, 1, 2], [2]) for _ in range(20)} == {2}
    assert partition_for(None, [0, 1, 2], []) in {0, 1, 2}
