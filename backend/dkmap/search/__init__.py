"""Finding items by their prompts (full-text and by meaning) and placing new pairs on a built map."""
