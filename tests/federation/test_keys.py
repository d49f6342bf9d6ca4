"""Tests for federation.keys: PEM handling, base58btc and Multikey."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from federation.errors import ParseError
from federation.keys import (
    base58btc_decode,
    base58btc_encode,
    ed25519_to_multibase,
    generate_ed25519_key,
    generate_rsa_key,
    load_private_key_pem,
    load_public_key_pem,
    multibase_to_public_key,
    private_key_to_pem,
    public_key_to_pem,
)

# W3C did:key test vector (also used by ssi / did-resolver-key test suites): the Ed25519
# key of the all-zero seed, whose JWK "x" is O2onvM62..., is did:key:z6MkiTBz1ymu...
ZERO_SEED_JWK_X = "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik"
ZERO_SEED_MULTIBASE = "z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
# The Multikey in FEP-521a's example actor.
FEP_521A_MULTIBASE = "z6MkekwC6R9bj9ErToB7AiZJfyCSDhaZe1UxhDbCqJrhqpS5"
# The RSA-2048 example from the did:key method spec (rsa-pub 0x1205 + DER PKCS#1).
DID_KEY_RSA_2048 = (
    "z4MXj1wBzi9jUstyPMS4jQqB6KdJaiatPkAtVtGc6bQEQEEsKTic4G7Rou3iBf9vPmT5dbkm9qsZsuVNjq8HCuW1w"
    "24nhBFGkRE4cd2Uf2tfrB3N7h4mnyPp1BF3ZttHTYv3DLUPi1zMdkULiow3M1GfXkoC6DoxDUm1jmN6GBj22SjVs"
    "r6dxezRVQc7aj9TxE7JLbMH1wh5X3kA58H3DFW8rnYMakFGbca5CB2Jf6CnGQZmL7o5uJAdTwXfy2iiiyPxXEGerM"
    "hHwhjTA1mKYobyk2CpeEcmvynADfNZ5MBvcCS7m3XkFCMNUYBS9NQ3fze6vMSUPsNa6GVYmKx2x6JrdEjCk3qRMMm"
    "yjnjCMfR4pXbRMZa3i"
)


def raw(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return generate_rsa_key()


@pytest.fixture(scope="module")
def weak_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


# --- generation and PEM -------------------------------------------------------------------


def test_generate_rsa_key_is_2048_bit_f4(rsa_key: rsa.RSAPrivateKey) -> None:
    assert rsa_key.key_size == 2048
    assert rsa_key.public_key().public_numbers().e == 65537


def test_private_key_pem_round_trips(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = private_key_to_pem(rsa_key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    loaded = load_private_key_pem(pem)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    assert loaded.private_numbers() == rsa_key.private_numbers()

    ed = generate_ed25519_key()
    loaded_ed = load_private_key_pem(private_key_to_pem(ed))
    assert isinstance(loaded_ed, ed25519.Ed25519PrivateKey)
    assert raw(loaded_ed.public_key()) == raw(ed.public_key())


def test_load_private_key_pem_accepts_traditional_rsa(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert isinstance(load_private_key_pem(pem), rsa.RSAPrivateKey)


def test_load_private_key_pem_rejects_bad_input(weak_rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ParseError):
        load_private_key_pem(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ParseError):
        load_private_key_pem(private_key_to_pem(weak_rsa_key))
    encrypted = generate_ed25519_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(ParseError):
        load_private_key_pem(encrypted)
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ParseError):
        load_private_key_pem(ec_pem)


def test_public_key_to_pem_is_spki(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = public_key_to_pem(rsa_key.public_key())
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert pem.endswith("-----END PUBLIC KEY-----\n")
    loaded = load_public_key_pem(pem)
    assert isinstance(loaded, rsa.RSAPublicKey)
    assert loaded.public_numbers() == rsa_key.public_key().public_numbers()


def test_load_public_key_pem_accepts_pkcs1(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )
    assert pem.startswith(b"-----BEGIN RSA PUBLIC KEY-----")
    loaded = load_public_key_pem(pem.decode())
    assert isinstance(loaded, rsa.RSAPublicKey)
    assert loaded.public_numbers() == rsa_key.public_key().public_numbers()


def test_load_public_key_pem_tolerates_surrounding_whitespace(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = public_key_to_pem(rsa_key.public_key())
    assert isinstance(load_public_key_pem("\n  " + pem + "\n\n"), rsa.RSAPublicKey)


def test_load_public_key_pem_accepts_ed25519() -> None:
    key = generate_ed25519_key().public_key()
    loaded = load_public_key_pem(public_key_to_pem(key))
    assert isinstance(loaded, ed25519.Ed25519PublicKey)
    assert raw(loaded) == raw(key)


def test_load_public_key_pem_rejects_weak_and_foreign_keys(
    weak_rsa_key: rsa.RSAPrivateKey,
) -> None:
    with pytest.raises(ParseError, match="1024 bits"):
        load_public_key_pem(public_key_to_pem(weak_rsa_key.public_key()))
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ParseError):
        load_public_key_pem(ec_pem.decode())
    for garbage in ["", "hello", "-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----", "é"]:
        with pytest.raises(ParseError):
            load_public_key_pem(garbage)


# --- base58btc ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoded"),
    [
        (b"", ""),
        (b"\x00", "1"),
        (b"\x00\x00\x01", "112"),
        (b"a", "2g"),
        (b"Hello World!", "2NEpo7TZRRrLZSi2U"),  # draft-msporny-base58 example
        (
            b"The quick brown fox jumps over the lazy dog.",
            "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z",
        ),
    ],
)
def test_base58btc_vectors(data: bytes, encoded: str) -> None:
    assert base58btc_encode(data) == encoded
    assert base58btc_decode(encoded) == data


@given(st.binary(max_size=200))
def test_base58btc_round_trips(data: bytes) -> None:
    assert base58btc_decode(base58btc_encode(data)) == data


@pytest.mark.parametrize("text", ["0", "O", "I", "l", "abc+", "z z"])
def test_base58btc_decode_rejects_foreign_characters(text: str) -> None:
    with pytest.raises(ParseError):
        base58btc_decode(text)


# --- Multikey -----------------------------------------------------------------------------


def test_ed25519_to_multibase_matches_did_key_vector() -> None:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()
    assert raw(key) == base64.urlsafe_b64decode(ZERO_SEED_JWK_X + "=")
    assert ed25519_to_multibase(key) == ZERO_SEED_MULTIBASE


def test_multibase_to_public_key_decodes_did_key_vector() -> None:
    key = multibase_to_public_key(ZERO_SEED_MULTIBASE)
    assert isinstance(key, ed25519.Ed25519PublicKey)
    assert raw(key) == base64.urlsafe_b64decode(ZERO_SEED_JWK_X + "=")


def test_multibase_round_trips_fep_521a_example() -> None:
    key = multibase_to_public_key(FEP_521A_MULTIBASE)
    assert isinstance(key, ed25519.Ed25519PublicKey)
    assert ed25519_to_multibase(key) == FEP_521A_MULTIBASE


def test_multibase_round_trips_generated_keys() -> None:
    for _ in range(20):
        private = generate_ed25519_key()
        encoded = ed25519_to_multibase(private.public_key())
        assert encoded.startswith("z6Mk")
        decoded = multibase_to_public_key(encoded)
        assert isinstance(decoded, ed25519.Ed25519PublicKey)
        decoded.verify(private.sign(b"myna"), b"myna")


def test_multibase_to_public_key_decodes_rsa_did_key_vector() -> None:
    key = multibase_to_public_key(DID_KEY_RSA_2048)
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048
    assert key.public_numbers().e == 65537


def test_multibase_to_public_key_round_trips_rsa(rsa_key: rsa.RSAPrivateKey) -> None:
    der = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )
    key = multibase_to_public_key("z" + base58btc_encode(b"\x85\x24" + der))
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.public_numbers() == rsa_key.public_key().public_numbers()


def test_multibase_to_public_key_rejects_weak_rsa(weak_rsa_key: rsa.RSAPrivateKey) -> None:
    der = weak_rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )
    with pytest.raises(ParseError):
        multibase_to_public_key("z" + base58btc_encode(b"\x85\x24" + der))


@pytest.mark.parametrize(
    "value",
    [
        "",
        "z",
        "6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",  # no multibase prefix
        "m7QFBRUZ",  # base64 multibase is not accepted
        "z" + base58btc_encode(b"\xed\x01" + bytes(31)),  # short Ed25519 key
        "z" + base58btc_encode(b"\xed\x01" + bytes(33)),  # long Ed25519 key
        "z" + base58btc_encode(b"\xec\x01" + bytes(32)),  # X25519 codec
        "z" + base58btc_encode(b"\x80\x24" + bytes(33)),  # P-256 codec
        "z" + base58btc_encode(b"\x85\x24" + b"not der"),
        "z" + "2" * 5000,  # absurdly long
    ],
)
def test_multibase_to_public_key_rejects(value: str) -> None:
    with pytest.raises(ParseError):
        multibase_to_public_key(value)


@given(st.text(max_size=300))
def test_multibase_to_public_key_raises_only_parse_error(value: str) -> None:
    try:
        multibase_to_public_key(value)
    except ParseError:
        pass


@given(st.text(max_size=300))
def test_load_public_key_pem_raises_only_parse_error(value: str) -> None:
    try:
        load_public_key_pem(value)
    except ParseError:
        pass
