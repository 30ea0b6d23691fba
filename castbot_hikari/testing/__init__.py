"""Test-support code shipped with the package: the local Discord emulator and its tools."""
