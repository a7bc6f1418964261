"""Operations: the briefs' promises (sync success, webhook latency, zero data loss) measured from the warehouse."""
