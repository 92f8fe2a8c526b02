"""Qt-free use cases: signing in, opening segments, labels and access events."""
