"""Operations: deploys, rollbacks, infrastructure and the local platform, as invoke tasks."""
