"""I/O code, written by hand as asyncio; scripts/unasync.py generates the sync package from it."""
