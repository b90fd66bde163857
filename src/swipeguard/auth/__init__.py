"""Console users and their sign-in; tills authenticate with API keys (see facilities)."""
