"""The transport to Claude through the Anthropic Messages API (`client.py`) for the
language-model engine of `digest.llm`: prompts, schema, plan, check and cost are shared
with the OpenAI-compatible transport (`digest.openai`)."""
