"""The wire-format helpers the WAL and .snap readers stand on."""

import pytest

from ansible_collections.etcdops.etcd.plugins.module_utils.ondisk import protowire


@pytest.mark.parametrize("crc", [protowire.crc32c, protowire.crc32c_python])
def test_crc32c_matches_the_standard_check_value_and_continues_like_go(crc):
    assert crc(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc(b"6789", crc(b"12345")) == 0xE3069283
    assert crc(b"") == 0


def test_fields_decode_varints_and_nested_bytes():
    # field 1 varint 150, field 3 bytes "hi", field 1300 varint 1
    buf = bytes([0x08, 0x96, 0x01, 0x1A, 0x02]) + b"hi" + bytes([0xA0, 0x51, 0x01])
    assert list(protowire.fields(buf)) == [(1, 150), (3, b"hi"), (1300, 1)]
    assert protowire.message(memoryview(buf))[3][0].tobytes() == b"hi"


@pytest.mark.parametrize("broken", [bytes([0x1A, 0x05]) + b"hi", bytes([0x08, 0xFF]), bytes([0x0B])])
def test_truncated_or_unknown_wire_data_is_an_error(broken):
    with pytest.raises(protowire.WireError):
        protowire.message(broken)
