"""The HTTP adapter: the FastAPI app that serves the API and the console."""
