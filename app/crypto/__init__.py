"""Qt-free cryptography shared by the Cordon client and server.

One implementation of every format: the chunked segment AEAD, key wrapping at
rest, and per-device key delivery with HPKE. The server imports these modules
too, so a format can never drift between the two sides.
"""
