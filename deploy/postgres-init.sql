-- Compose: the warehouse gets a database of its own beside Dagster's storage (POSTGRES_DB=dagster), so the two
-- can later move to separate servers without a dump. Run once by the postgres image on an empty volume.
CREATE DATABASE warehouse;
