"""Redis's glob matching (util.c stringmatchlen), for the key patterns functions/acl generates.

Used to tell which users may touch a key (`owners`) where Redis has no `ACL DRYRUN` (6.2);
tests/test_acl.py checks it against Redis's own `KEYS` on every generated pattern.
"""

from __future__ import annotations


def matches(pattern: str, key: str) -> bool:
    """Redis's glob match (util.c stringmatchlen) for the patterns generated here: `*`, `?`,
    `[...]` and `\\` escapes."""
    return _match(pattern, 0, key, 0)


def _match(p: str, i: int, s: str, j: int) -> bool:
    while i < len(p):
        c = p[i]
        if c == "*":
            while i + 1 < len(p) and p[i + 1] == "*":
                i += 1
            if i + 1 == len(p):
                return True
            return any(_match(p, i + 1, s, k) for k in range(j, len(s) + 1))
        if j >= len(s):
            return False
        if c == "?":
            pass
        elif c == "[":
            end = p.index("]", i + 1)
            if s[j] not in p[i + 1 : end]:
                return False
            i = end
        else:
            if c == "\\" and i + 1 < len(p):
                i += 1
            if p[i] != s[j]:
                return False
        i += 1
        j += 1
    return j == len(s)
