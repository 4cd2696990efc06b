"""Reference two-phase commit (spec/twopc.md): coordinator, memory and XA participants."""
