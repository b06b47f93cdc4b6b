"""The scheduler loop: sleep until the earliest due slot (woken at once on change), fire, repeat."""
