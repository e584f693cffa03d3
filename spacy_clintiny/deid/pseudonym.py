"""Keyed pseudonyms: hash codes and deterministic, reversible encryption of PHI spans.

Two operators that Presidio has besides tags, masks and fake values, made consistent the way a
patient record needs:

- ``hash``: the span becomes ``[NAME-3f2a9c1e7b4d]``, the first 12 hex digits (48 bits) of
  ``HMAC-SHA256(hash key, f"{label}|{normalized original}")``. With one key the same name gets
  the same code in every note, patient, process and run (letter case and inner whitespace do
  not count), so records can be linked and counted without the name. A plain unkeyed hash could
  be reversed by hashing a list of names; this one cannot without the key. Two different
  originals of one label share a code with probability about n² / 2⁴⁹ for n distinct originals
  (about 1 in 10,000 for 100,000).
- ``encrypt``: the span becomes ``[NAME~<token>]``, the token being the URL-safe base64 (no
  padding) of AES-SIV (RFC 5297, deterministic authenticated encryption) of the exact original,
  with the label as associated data. Equal originals give equal tokens (consistent like
  ``hash``), and whoever holds the key gets each original back (:func:`decrypt_text`,
  ``clintiny deid-decrypt``): reversible pseudonymization for an honest broker. A token changed
  or decrypted with another key fails its authentication check instead of giving wrong text.
  Needs the ``cryptography`` package (extra ``encrypt``) and a key: with a random key nobody
  could ever decrypt, so none is made up.

Both are pseudonymization, not de-identification in the HIPAA Safe Harbor sense: the codes are
derived from the PHI, and the key undoes them (encryption) or confirms a guess (hash). Keep the
key apart from the outputs, as for surrogates.

The user's secret is never used as it is: each operator derives its own key from it by
HMAC with a fixed label, so one secret can serve surrogates, hash codes and encryption without
one revealing another.
"""

import base64
import hashlib
import hmac
import re
from typing import Any, List, Optional, Tuple, Union

from ..converters.labels import PHI_LABELS
from ..errors import Errors
from .lists import KEY_ENV, secret_bytes
from .textshape import normalize

CODE_HEX = 12
HASH_FORMAT = "[{label}-{code}]"
ENCRYPTED_FORMAT = "[{label}~{token}]"
# an encrypted span in an output text: a PHI label, "~", a base64url token of at least the
# 16-byte SIV tag plus one byte
ENCRYPTED_SPAN = re.compile(r"\[(?P<label>[A-Z]+)~(?P<token>[A-Za-z0-9_-]{23,})\]")
_HASH_INFO = b"clintiny-deid-hash-v1"
_ENCRYPT_INFO = b"clintiny-deid-encrypt-v1"


class Pseudonymizer:
    """Hash codes and AES-SIV tokens under one secret (see the module docstring).

    key (Optional[Union[str, bytes]]): The secret. None: a random one, for hash codes consistent
        within this object only; encryption then refuses to run (nothing could decrypt it).
    """

    def __init__(self, key: Optional[Union[str, bytes]] = None) -> None:
        self.keyed = key is not None
        secret = secret_bytes(key)
        self._hash_key = hmac.new(secret, _HASH_INFO, hashlib.sha256).digest()
        # 64 bytes: AES-256-SIV
        self._encrypt_key = hmac.new(secret, _ENCRYPT_INFO, hashlib.sha512).digest() if self.keyed else None
        self._siv: Any = None

    def __repr__(self) -> str:
        # Never show the key.
        return f"Pseudonymizer(keyed={self.keyed})"

    def __getstate__(self) -> dict:
        # For multiprocessing: the cipher object is rebuilt on the other side.
        state = dict(self.__dict__)
        state["_siv"] = None
        return state

    def code(self, original: str, *, label: str) -> str:
        """The hash code of a span: the same for the same label and normalized text.

        original (str): The span's text.
        label (str): Its PHI category.
        RETURNS (str): ``CODE_HEX`` lower-case hex digits.
        """
        message = f"{label}|{normalize(original)}".encode("utf8")
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()[:CODE_HEX]

    def hashed(self, original: str, *, label: str) -> str:
        """RETURNS (str): The span's replacement in hash mode, ``HASH_FORMAT`` filled."""
        return HASH_FORMAT.format(label=label, code=self.code(original, label=label))

    def encrypt(self, original: str, *, label: str) -> str:
        """The span's token: AES-SIV of the exact text, the label authenticated with it.

        original (str): The span's text.
        label (str): Its PHI category (needed again to decrypt).
        RETURNS (str): URL-safe base64 without padding.
        """
        sealed = self._cipher().encrypt(original.encode("utf8"), [label.encode("ascii")])
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def encrypted(self, original: str, *, label: str) -> str:
        """RETURNS (str): The span's replacement in encrypt mode, ``ENCRYPTED_FORMAT`` filled."""
        return ENCRYPTED_FORMAT.format(label=label, token=self.encrypt(original, label=label))

    def decrypt(self, token: str, *, label: str) -> Optional[str]:
        """The original behind a token, or None if the token was not made by this key for this
        label (changed, truncated or another key's).

        token (str): As :meth:`encrypt` returns it.
        label (str): The label written beside it.
        RETURNS (Optional[str]): The original text.
        """
        from cryptography.exceptions import InvalidTag

        try:
            data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            return self._cipher().decrypt(data, [label.encode("ascii")]).decode("utf8")
        except (InvalidTag, ValueError, UnicodeError):
            return None

    def check_encryption(self) -> None:
        """Raise now, before any note is read, if this object cannot encrypt (made without a key,
        or the ``cryptography`` package missing)."""
        self._cipher()

    def _cipher(self) -> Any:
        if self._encrypt_key is None:
            raise ValueError(Errors.E732.format(env=KEY_ENV))
        if self._siv is None:
            try:
                from cryptography.hazmat.primitives.ciphers.aead import AESSIV
            except ImportError:
                raise ValueError(Errors.E733) from None
            self._siv = AESSIV(self._encrypt_key)
        return self._siv


def decrypt_text(text: str, pseudonymizer: Pseudonymizer) -> Tuple[str, int, List[Tuple[int, int]]]:
    """Put the originals back in place of the encrypted spans of an output text.

    text (str): Text written by the "encrypt" mode (or any text holding its tokens).
    pseudonymizer (Pseudonymizer): Made with the key that encrypted it.
    RETURNS (Tuple[str, int, List[Tuple[int, int]]]): The text with every token this key
        decrypts replaced by its original, how many were, and the (start, end) offsets in
        ``text`` of the tokens it could not decrypt (left as they are).
    """
    pieces: List[str] = []
    failed: List[Tuple[int, int]] = []
    done = pos = 0
    for match in ENCRYPTED_SPAN.finditer(text):
        label = match.group("label")
        original = pseudonymizer.decrypt(match.group("token"), label=label) if label in PHI_LABELS else None
        if original is None:
            failed.append((match.start(), match.end()))
            continue
        pieces.append(text[pos : match.start()])
        pieces.append(original)
        pos = match.end()
        done += 1
    pieces.append(text[pos:])
    return "".join(pieces), done, failed
