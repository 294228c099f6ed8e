"""Customer intents: configuration, normalisation, offline classifier, KB and the cascade."""
