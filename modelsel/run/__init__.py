"""Stage 3, the run: calls, retries, the response cache, the run folder, records and latency passes."""
