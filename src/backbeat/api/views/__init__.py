"""Response shapes of the API that several routes share or that are long enough to stand apart."""
