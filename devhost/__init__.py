"""Local host: runs function_app without Azure Functions Core Tools (development only)."""
