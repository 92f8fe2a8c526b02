"""Qt-free domain types the client thinks in."""
