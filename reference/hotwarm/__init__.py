"""Reference implementations of hot-warm redundancy (spec/hotwarm.md)."""
