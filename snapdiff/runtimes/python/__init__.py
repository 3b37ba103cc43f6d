"""Python: py-spy, the probe, aiomonitor, py-spy-asyncio, faulthandler, pystack."""
