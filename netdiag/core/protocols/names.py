"""Chat names: which names are allowed, and when two names are the same name.

A name identifies its owner to the room (``alice: hi``), so two members must never be able to post under
names a reader cannot tell apart. ``canonical_name`` is the identity two names are compared by:

1. Unicode NFKC, so compatibility forms fold into their plain letters (fullwidth ``ａｌｉｃｅ``,
   superscript ``²``, ligatures ``ﬁ``);
2. ``casefold`` (``Alice``, ``ALICE``, German ``ß`` / ``ss``);
3. a small table of letters from other scripts that look like Latin ones (Cyrillic ``а`` and Latin
   ``a``, Greek ``ο`` and ``o``, ...): the part of Unicode's confusables list (UTS #39) that imitates
   ASCII letters, which is what a lab room's default names and most chosen names are made of.

Letters from any script are allowed in a name (``José``, ``Дмитрий``, ``李``); only look-alikes of names
already present are refused. Names are kept as typed (NFC, so a composed and a decomposed ``é`` are one
spelling) and shown as typed.
"""

from __future__ import annotations

import re
import unicodedata

NAME_MAX = 24
NAME_RULE = f"a name is 1 to {NAME_MAX} letters, digits, '.', '_' or '-'"
_NAME = re.compile(rf"[\w.-]{{1,{NAME_MAX}}}")  # \w: letters and digits of any script, and '_'

# Lower-case look-alikes of ASCII letters and digits (after NFKC and casefold), from UTS #39's
# confusables. Upper-case forms are covered by casefold (Cyrillic 'А' folds to 'а', then maps to 'a').
_LOOK_ALIKES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j", "к": "k",
    "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "ѕ": "s", "т": "t", "у": "y", "х": "x",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ь": "b", "з": "3",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ϲ": "c", "ϳ": "j", "ζ": "z", "μ": "m",
    # Latin letters that imitate other Latin letters
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɡ": "g", "ℓ": "l",
    # Armenian
    "օ": "o", "ս": "u", "հ": "h", "ո": "n",
}
_FOLD = str.maketrans(_LOOK_ALIKES)


def spelling(name: str) -> str:
    """The name as it will be stored and shown: NFC, surrounding whitespace removed."""
    return unicodedata.normalize("NFC", name.strip())


def valid_name(name: str) -> bool:
    """1 to ``NAME_MAX`` letters or digits (any script), '.', '_' or '-'; ``name`` already spelled."""
    return _NAME.fullmatch(name) is not None


def canonical_name(name: str) -> str:
    """What two names are compared by: NFKC, casefold, ASCII look-alikes folded (module docstring)."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    # NFKC again: the table's output is ASCII, but casefold can undo NFKC's composition ('ǰ').
    return unicodedata.normalize("NFKC", folded.translate(_FOLD))
