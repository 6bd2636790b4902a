from __future__ import annotations

from server.identity import totp

# RFC 6238 appendix B, SHA-1, secret "12345678901234567890" (base32 below), 8 digits truncated to 6.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def test_rfc6238_vectors() -> None:
    assert totp.code_at(RFC_SECRET, 59) == "287082"
    assert totp.code_at(RFC_SECRET, 1111111109) == "081804"
    assert totp.code_at(RFC_SECRET, 1234567890) == "005924"


def test_verify_accepts_one_step_of_drift_only() -> None:
    s = totp.new_secret()
    now = 1_700_000_000.0
    code = totp.code_at(s, now)
    assert totp.verify(s, code, now) == int(now // 30)
    assert totp.verify(s, code, now + 30) is not None
    assert totp.verify(s, code, now + 95) is None
    assert totp.verify(s, " ".join([code[:3], code[3:]]), now) is not None


def test_verify_refuses_malformed_codes() -> None:
    s = totp.new_secret()
    for bad in ("", "12345", "1234567", "abcdef"):
        assert totp.verify(s, bad, 0) is None


def test_provisioning_uri_and_recovery_codes() -> None:
    uri = totp.provisioning_uri("ABC", "officer one")
    assert uri.startswith("otpauth://totp/Tandem:officer%20one?secret=ABC")
    codes = totp.new_recovery_codes()
    assert len(codes) == len(set(codes)) == 10 and all("-" in c for c in codes)
