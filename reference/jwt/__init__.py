"""Reference JWT verifiers (spec/jwt.md): PyJWT with kid lookup, a denylist and refresh families."""
