"""What `spillway keys` refuses, under one base that commands.py turns into one line.

KeysError          the base: `spillway: error: <message>`, exit 2
  UnknownKey       no key with that id
  BadSpec          a key spec (the bootstrap file, an option) that cannot be a key
  StoreUnavailable Redis could not be reached or refused
"""

from __future__ import annotations


class KeysError(Exception):
    exit_status = 2


class UnknownKey(KeysError):
    pass


class BadSpec(KeysError):
    pass


class StoreUnavailable(KeysError):
    exit_status = 1
