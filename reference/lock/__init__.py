"""Reference implementations of the distributed lock (spec/lock.md)."""
