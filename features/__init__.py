"""Point-in-time features from the raw tables of the data contract, and the data contract itself."""
