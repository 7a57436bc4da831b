"""`modelsel import traces`: eval sets drawn from production traces (OTLP/JSON with the GenAI or
OpenInference attributes, Langfuse exports, MLflow 3 traces). read -> redact -> sample -> write."""
