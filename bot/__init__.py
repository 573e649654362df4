"""The Discord adapter over :class:`retrieval.query.service.QueryService` (see issue 4)."""
