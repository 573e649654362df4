"""The Discord adapter over :class:`retrieval.service.QueryService` (see issue 4)."""
