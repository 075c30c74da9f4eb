"""The transport to OpenAI-compatible Chat Completions APIs (OpenAI, Ollama, vLLM,
OpenRouter, llama.cpp server, LM Studio) for the language-model engine of `digest.llm`."""
