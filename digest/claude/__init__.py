"""The Claude engine: digests written by Claude through the Anthropic API, checked against
the window's papers, with the offline engine standing in for anything that fails."""
