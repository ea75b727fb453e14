"""The New Guest wizard: install method, OS, memory and CPUs, storage, name and network, then creation."""
