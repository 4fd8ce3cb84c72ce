"""Emulated devices on loopback, for tests, the demo and benchmarks: each device on its own
127.x.y.z address and its real ports, answering as its profile (a data file) says."""
