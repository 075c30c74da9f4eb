"""The offline synthesis engine: digests without a language model or network."""
