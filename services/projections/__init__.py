"""Live projections (faust-streaming): trajectory status, provider load against capacity, waiting times."""
