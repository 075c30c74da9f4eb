"""What every language-model engine shares, whatever the vendor: the prompts, the answer
schema, the token budget and request plan, the citation check, the price table, the
map-reduce engine itself (`engine.py`) and the retry policy of the transports.

A transport is the one door to one API: `digest.claude.client` (Anthropic Messages API)
and `digest.openai.client` (any OpenAI-compatible Chat Completions API: OpenAI, Ollama,
vLLM, OpenRouter, llama.cpp, LM Studio). Nothing here imports a vendor SDK.
"""
