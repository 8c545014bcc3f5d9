-- First-start initialisation for the compose stack's PostgreSQL (postgres:16 image).
-- Mounted into /docker-entrypoint-initdb.d/, so it runs once, on an empty data volume, as the
-- superuser, through psql with ON_ERROR_STOP=1.
--
-- One database per service (services never read each other's tables) and one login role,
-- `inclusion`, that owns them. Its password is not in this file: the postgres container gets it
-- in INCLUSION_DB_PASSWORD (compose passes ${DB_PASSWORD}), and psql reads it with \getenv.

\set ON_ERROR_STOP on

\getenv inclusion_password INCLUSION_DB_PASSWORD
\if :{?inclusion_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'INCLUSION_DB_PASSWORD is not set in the postgres container'; END $$;
\endif

CREATE ROLE inclusion LOGIN PASSWORD :'inclusion_password';

CREATE DATABASE referral OWNER inclusion;
CREATE DATABASE cme OWNER inclusion;
CREATE DATABASE exclusions OWNER inclusion;
CREATE DATABASE enforcement OWNER inclusion;
CREATE DATABASE reporting OWNER inclusion;

-- Store UTC (deadlines are computed in Europe/London by the application, never by the database).
ALTER DATABASE referral SET timezone TO 'UTC';
ALTER DATABASE cme SET timezone TO 'UTC';
ALTER DATABASE exclusions SET timezone TO 'UTC';
ALTER DATABASE enforcement SET timezone TO 'UTC';
ALTER DATABASE reporting SET timezone TO 'UTC';

-- Only the owner connects to the service databases.
REVOKE ALL ON DATABASE referral FROM PUBLIC;
REVOKE ALL ON DATABASE cme FROM PUBLIC;
REVOKE ALL ON DATABASE exclusions FROM PUBLIC;
REVOKE ALL ON DATABASE enforcement FROM PUBLIC;
REVOKE ALL ON DATABASE reporting FROM PUBLIC;
