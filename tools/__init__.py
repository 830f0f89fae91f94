"""Developer tools: start the local services (emulator, Azurite) for tests, the demo and Binder."""
