"""Client I/O, written by hand as asyncio; scripts/unasync.py generates the sync package from it."""
