# -*- coding: utf-8 -*-
# Copyright: etcdops.etcd contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Just enough protobuf wire format and CRC-32C to read etcd's WAL and .snap files."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:  # a C implementation when the host has one; the same results, much faster on big WALs
    from crc32c import crc32c as _fast_crc32c
except ImportError:
    _fast_crc32c = None


class WireError(ValueError):
    pass


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _bit in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


CRC32C_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli) of ``data``, continuing from ``crc`` as Go's crc32.Update does."""
    if _fast_crc32c is not None:
        return _fast_crc32c(data, crc)
    return crc32c_python(data, crc)


def crc32c_python(data, crc=0):
    """The table-driven CRC-32C, for hosts without the crc32c library."""
    table = CRC32C_TABLE
    crc ^= 0xFFFFFFFF
    for byte in bytearray(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def varint(buf, pos):
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise WireError("varint runs past the end")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes")


def fields(buf):
    """Yield (field number, value): an int for varint and fixed fields, a slice of ``buf`` for
    length-delimited ones (a memoryview in gives memoryviews out: no copies of big payloads)."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 2:
            size, pos = varint(buf, pos)
            if pos + size > end:
                raise WireError("field %d runs past the end" % number)
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 1:
            value, pos = int.from_bytes(bytes(buf[pos:pos + 8]), "little"), pos + 8
        elif wire == 5:
            value, pos = int.from_bytes(bytes(buf[pos:pos + 4]), "little"), pos + 4
        else:
            raise WireError("unsupported wire type %d" % wire)
        if number == 0 or pos > end:
            raise WireError("malformed field")
        yield number, value


def message(buf):
    """The fields of a message as a dict of lists (repeated fields keep every value)."""
    out = {}
    for number, value in fields(buf):
        out.setdefault(number, []).append(value)
    return out
