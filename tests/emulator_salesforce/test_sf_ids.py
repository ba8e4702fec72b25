"""Record ids as Salesforce spells them: the 3-char case-safe suffix of an 18-char id, checked
against ids published by Salesforce, and the 15-char form of an id naming the same record."""

from __future__ import annotations

import pytest

from leadsync.emulator.salesforce.ids import IdFactory, checksum, to18


@pytest.mark.parametrize(
    ("id15", "suffix"),
    [
        ("a0D30000001n7Pi", "EAI"),  # Salesforce's knowledge article example
        ("001A0000006Vm9r", "IAC"),
        ("00000000000000a", "AAA"),  # no uppercase letter: every chunk A
        ("ZZZZZZZZZZZZZZZ", "555"),  # every letter uppercase: every chunk 5 (31)
        ("A0000000000000B", "BAQ"),  # bit 0 of chunk 1 (B), bit 4 of chunk 3 (Q)
        ("0000A00000B0000", "QAB"),  # bit 4 of chunk 1 (Q), bit 0 of chunk 3 (B)
    ],
)
def test_checksum_of_published_and_edge_ids(id15, suffix):
    assert checksum(id15) == suffix
    assert to18(id15) == id15 + suffix
    assert to18(id15 + "aaa") == id15 + suffix  # an 18-char id with a wrong suffix: corrected


def test_what_cannot_be_an_id():
    assert to18("00Q8d00000000Z") is None  # 14 chars
    assert to18("00Q8d00000000Z-") is None  # not a letter or digit
    assert to18("00Q8d00000000Zé") is None  # not ASCII


def test_new_ids_carry_their_checksum():
    ids = IdFactory()
    made = [ids.new("00Q") for _ in range(3)]  # "00Q8d": Q is bit 2 of chunk 1 (E)
    assert made == ["00Q8d0000000001EAA", "00Q8d0000000002EAA", "00Q8d0000000003EAA"]
    assert all(i[15:] == checksum(i[:15]) for i in made)
