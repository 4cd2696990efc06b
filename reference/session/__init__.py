"""Reference implementations of server-side sessions (spec/session.md)."""
