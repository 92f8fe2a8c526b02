"""The tamper-evident audit log: RFC 9162 Merkle trees and signed checkpoints."""
