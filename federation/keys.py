"""Key material: generation, PEM (de)serialisation and Multikey (multibase) encoding.

Actors publish an RSA key as SubjectPublicKeyInfo PEM in ``publicKey.publicKeyPem``
(interop.md 2.4) and may publish Ed25519 keys as FEP-521a ``Multikey`` objects whose
``publicKeyMultibase`` is ``"z" + base58btc(multicodec prefix + key bytes)`` as in the
W3C Controlled Identifiers spec. Only RSA keys of at least 2048 bits and Ed25519 keys are
accepted; anything else raises `ParseError`.
"""

from __future__ import annotations

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from federation.errors import ParseError

__all__ = [
    "MAX_RSA_BITS",
    "MIN_RSA_BITS",
    "PrivateKey",
    "PublicKey",
    "base58btc_decode",
    "base58btc_encode",
    "ed25519_to_multibase",
    "generate_ed25519_key",
    "generate_rsa_key",
    "load_private_key_pem",
    "load_public_key_pem",
    "multibase_to_public_key",
    "private_key_to_pem",
    "public_key_to_pem",
]

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey

MIN_RSA_BITS = 2048
# Verification cost grows with the modulus; nobody in the fediverse uses more than 4096.
MAX_RSA_BITS = 16384

_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {char: index for index, char in enumerate(_BASE58_ALPHABET)}
# A 16384-bit RSA Multikey is about 2,900 characters; refuse far longer input early,
# because base58 decoding is quadratic in the length.
_MAX_MULTIBASE_CHARS = 4096

# Multicodec codes, unsigned-varint encoded: ed25519-pub 0xed, rsa-pub 0x1205.
_ED25519_PUB_PREFIX = b"\xed\x01"
_RSA_PUB_PREFIX = b"\x85\x24"


def generate_rsa_key() -> rsa.RSAPrivateKey:
    """Return a new 2048-bit RSA private key with public exponent 65537."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def generate_ed25519_key() -> ed25519.Ed25519PrivateKey:
    """Return a new Ed25519 private key."""
    return ed25519.Ed25519PrivateKey.generate()


def private_key_to_pem(key: PrivateKey) -> bytes:
    """Return ``key`` as unencrypted PKCS#8 PEM (``-----BEGIN PRIVATE KEY-----``)."""
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def load_private_key_pem(data: bytes, *, own: bool = False) -> PrivateKey:
    """Load an unencrypted PEM private key (PKCS#8 or traditional).

    ``own=True`` is for keys this server generated itself: it skips OpenSSL's RSA consistency
    check, which costs about 40 ms per key and guards only against crafted keys.
    Returns the RSA or Ed25519 key. Raises `ParseError` if the data cannot be parsed, is
    encrypted, or holds another algorithm or an RSA key outside the accepted sizes.
    """
    try:
        key = serialization.load_pem_private_key(
            data, password=None, unsafe_skip_rsa_key_validation=own
        )
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ParseError("unreadable private key PEM") from exc
    if isinstance(key, rsa.RSAPrivateKey):
        _check_rsa_size(key.key_size)
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise ParseError(f"unsupported private key type {type(key).__name__}")


def public_key_to_pem(key: PublicKey) -> str:
    """Return ``key`` as SubjectPublicKeyInfo PEM (``-----BEGIN PUBLIC KEY-----``)."""
    return key.public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    ).decode("ascii")


def load_public_key_pem(pem: str) -> PublicKey:
    """Load a peer's public key from PEM.

    Accepts SubjectPublicKeyInfo (``BEGIN PUBLIC KEY``) and PKCS#1 (``BEGIN RSA PUBLIC
    KEY``). Returns the RSA or Ed25519 key. Raises `ParseError` for unparsable PEM, other
    algorithms and RSA keys shorter than 2048 (or longer than 16384) bits.
    """
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    except (ValueError, TypeError, UnicodeError, UnsupportedAlgorithm) as exc:
        raise ParseError("unreadable public key PEM") from exc
    return _accept_public_key(key)


def ed25519_to_multibase(pub: ed25519.Ed25519PublicKey) -> str:
    """Return the Multikey ``publicKeyMultibase`` of an Ed25519 key (``z6Mk...``)."""
    raw = pub.public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )
    return "z" + base58btc_encode(_ED25519_PUB_PREFIX + raw)


def multibase_to_public_key(value: str) -> PublicKey:
    """Decode a Multikey ``publicKeyMultibase`` value.

    Accepts base58btc (``z``) with the ed25519-pub prefix (``0xed 0x01`` + 32 bytes) or the
    rsa-pub prefix (``0x1205`` as varint ``0x85 0x24`` + DER PKCS#1). Returns the key.
    Raises `ParseError` for any other encoding, codec, length or a weak RSA key.
    """
    if not value.startswith("z"):
        raise ParseError("publicKeyMultibase must be base58btc ('z' prefix)")
    data = base58btc_decode(value[1:])
    if data.startswith(_ED25519_PUB_PREFIX):
        raw = data[len(_ED25519_PUB_PREFIX) :]
        if len(raw) != 32:
            raise ParseError(f"Ed25519 Multikey has {len(raw)} key bytes, expected 32")
        try:
            return ed25519.Ed25519PublicKey.from_public_bytes(raw)
        except ValueError as exc:  # pragma: no cover - any 32 bytes load
            raise ParseError("invalid Ed25519 public key") from exc
    if data.startswith(_RSA_PUB_PREFIX):
        try:
            key = serialization.load_der_public_key(data[len(_RSA_PUB_PREFIX) :])
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ParseError("invalid RSA Multikey") from exc
        if not isinstance(key, rsa.RSAPublicKey):
            raise ParseError("RSA Multikey does not hold an RSA key")
        return _accept_public_key(key)
    raise ParseError("unsupported Multikey codec")


def base58btc_encode(data: bytes) -> str:
    """Return ``data`` in base58btc (Bitcoin alphabet); each leading zero byte is a ``1``."""
    zeros = len(data) - len(data.lstrip(b"\x00"))
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(_BASE58_ALPHABET[remainder])
    return "1" * zeros + "".join(reversed(digits))


def base58btc_decode(text: str) -> bytes:
    """Decode base58btc ``text``.

    Returns the bytes. Raises `ParseError` on characters outside the alphabet or input
    longer than 4096 characters.
    """
    if len(text) > _MAX_MULTIBASE_CHARS:
        raise ParseError("base58 value too long")
    number = 0
    for char in text:
        digit = _BASE58_INDEX.get(char)
        if digit is None:
            raise ParseError(f"invalid base58 character {char!r}")
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * zeros + body


def _accept_public_key(key: object) -> PublicKey:
    if isinstance(key, rsa.RSAPublicKey):
        _check_rsa_size(key.key_size)
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise ParseError(f"unsupported public key type {type(key).__name__}")


def _check_rsa_size(bits: int) -> None:
    if not MIN_RSA_BITS <= bits <= MAX_RSA_BITS:
        raise ParseError(f"RSA key of {bits} bits is outside {MIN_RSA_BITS}..{MAX_RSA_BITS}")
