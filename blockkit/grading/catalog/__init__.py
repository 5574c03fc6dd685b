"""Cases for every lesson's exercises, one module per lesson (``l03_merkle``: lesson 03)."""
