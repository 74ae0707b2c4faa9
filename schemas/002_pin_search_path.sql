-- Functions that run with the owner's rights no longer trust the caller's search path.
--
-- 001 pinned `search_path = pg_catalog, public` without naming pg_temp. PostgreSQL then searches
-- the caller's temporary schema FIRST for relation and type names, so a member of
-- sentinel_ingest could create a temporary view named pg_class (or pg_namespace, pg_inherits)
-- calling a function of its own and have sentinel_ensure_month_partition, a SECURITY DEFINER
-- function, run that function as sentinel_owner: disable the append-only triggers, rewrite audit
-- rows. Every function below is re-created with `search_path = pg_catalog, pg_temp` (pg_temp
-- named last: searched after the catalog, and never for functions or operators) and every object
-- named with its schema. public is no longer in any of these paths, so operators resolve in
-- pg_catalog only and need no OPERATOR(pg_catalog.=) spelling; SQL keyword forms such as
-- extract(... FROM ...) and coalesce() are parsed to pg_catalog functions already.
--
-- CREATE OR REPLACE keeps each function's owner, its grants and the REVOKEs of 001; they are
-- repeated here only where 001 made them, so that the result is the same on every database.

-- The append-only trigger function: runs as the role that tried the change (not a definer), but
-- pinned all the same.
CREATE OR REPLACE FUNCTION public.sentinel_forbid_modification() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  RAISE EXCEPTION '% is append-only: % is not allowed; retention drops whole month partitions',
    TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'To remove old data, detach and drop its month partitions as the table owner.';
END
$fn$;

-- Month partitions on demand, run as the owner on behalf of the ingest role (see 001).
CREATE OR REPLACE FUNCTION public.sentinel_ensure_month_partition(parent text, month_start date)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  partition_name pg_catalog.text;
  partition_oid  pg_catalog.oid;
  attached_to    pg_catalog.oid;
BEGIN
  IF parent IS NULL OR parent NOT IN ('audit_logs', 'invocations') THEN
    RAISE EXCEPTION 'sentinel_ensure_month_partition: parent must be audit_logs or invocations, not %',
      coalesce(pg_catalog.quote_literal(parent), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF month_start IS NULL OR extract(day FROM month_start) <> 1
     OR extract(year FROM month_start) NOT BETWEEN 1000 AND 9999 THEN
    RAISE EXCEPTION 'sentinel_ensure_month_partition: month_start must be the first day of a month (years 1000-9999), not %',
      coalesce(month_start::pg_catalog.text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  partition_name := parent || '_' || pg_catalog.to_char(month_start, 'YYYY_MM');
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(
    'sentinel_ensure_month_partition:' || partition_name, 0));

  SELECT c.oid INTO partition_oid
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relname = partition_name;
  IF partition_oid IS NOT NULL THEN
    SELECT i.inhparent INTO attached_to FROM pg_catalog.pg_inherits i
    WHERE i.inhrelid = partition_oid;
    IF attached_to IS DISTINCT FROM
       pg_catalog.format('public.%I', parent)::pg_catalog.regclass::pg_catalog.oid THEN
      RAISE EXCEPTION 'relation % exists but is not a partition of %', partition_name, parent
        USING ERRCODE = 'duplicate_table',
              HINT = 'attach it (ALTER TABLE ... ATTACH PARTITION) or drop it';
    END IF;
    RETURN partition_name;
  END IF;

  -- Bounds are UTC midnights, whatever the session's TimeZone. The statements run with this
  -- function's search_path, and name every object with its schema too.
  EXECUTE pg_catalog.format(
    'CREATE TABLE public.%I PARTITION OF public.%I'
    ' FOR VALUES FROM (%L::pg_catalog.timestamp AT TIME ZONE ''UTC'')'
    ' TO (%L::pg_catalog.timestamp AT TIME ZONE ''UTC'')',
    partition_name, parent,
    pg_catalog.to_char(month_start, 'YYYY-MM-DD'),
    pg_catalog.to_char((month_start + '1 month'::pg_catalog.interval)::pg_catalog.date,
                       'YYYY-MM-DD'));
  EXECUTE pg_catalog.format(
    'CREATE TRIGGER %I BEFORE UPDATE OR DELETE OR TRUNCATE ON public.%I'
    ' FOR EACH STATEMENT EXECUTE FUNCTION public.sentinel_forbid_modification()',
    partition_name || '_append_only', partition_name);
  RETURN partition_name;
END
$fn$;

-- Ownership and grants (see 001): run by the owner or a DBA, pinned and qualified the same way.
CREATE OR REPLACE PROCEDURE public.sentinel_apply_roles()
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  rel pg_catalog.regclass;
  owner_usable  pg_catalog.bool;
  ingest_exists pg_catalog.bool;
BEGIN
  owner_usable := false;
  IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sentinel_owner') THEN
    owner_usable := pg_catalog.pg_has_role(current_user, 'sentinel_owner', 'MEMBER')
      AND pg_catalog.has_schema_privilege('sentinel_owner', 'public', 'CREATE');
  END IF;
  ingest_exists := EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sentinel_ingest');

  IF owner_usable THEN
    FOR rel IN
      SELECT c.oid::pg_catalog.regclass FROM pg_catalog.pg_class c
      WHERE c.relnamespace = 'public'::pg_catalog.regnamespace
        AND (c.relname IN ('audit_logs', 'invocations', 'costs', 'ingest_offsets',
                           'ingest_rejects', 'schema_migrations')
             OR c.oid IN (SELECT i.inhrelid FROM pg_catalog.pg_inherits i
                          WHERE i.inhparent IN ('public.audit_logs'::pg_catalog.regclass,
                                                'public.invocations'::pg_catalog.regclass)))
    LOOP
      -- regclass prints schema-qualified here: public is not in this search_path.
      EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO sentinel_owner', rel);
    END LOOP;
    ALTER FUNCTION public.sentinel_forbid_modification() OWNER TO sentinel_owner;
    ALTER FUNCTION public.sentinel_ensure_month_partition(text, date) OWNER TO sentinel_owner;
    ALTER PROCEDURE public.sentinel_apply_roles() OWNER TO sentinel_owner;
  ELSE
    RAISE NOTICE 'sentinel-ingest: role sentinel_owner missing or not usable by %; schema objects stay owned by %',
      current_user, current_user;
  END IF;

  IF ingest_exists THEN
    GRANT INSERT ON public.audit_logs, public.invocations, public.ingest_rejects TO sentinel_ingest;
    GRANT USAGE ON SEQUENCE public.ingest_rejects_id_seq TO sentinel_ingest;
    GRANT SELECT, INSERT, UPDATE ON public.costs, public.ingest_offsets TO sentinel_ingest;
    GRANT SELECT ON public.schema_migrations TO sentinel_ingest;
    GRANT EXECUTE ON FUNCTION public.sentinel_ensure_month_partition(text, date) TO sentinel_ingest;
  ELSE
    RAISE NOTICE 'sentinel-ingest: role sentinel_ingest missing; no grants made';
  END IF;
END
$fn$;

REVOKE ALL ON FUNCTION public.sentinel_ensure_month_partition(text, date) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.sentinel_forbid_modification() FROM PUBLIC;
REVOKE ALL ON PROCEDURE public.sentinel_apply_roles() FROM PUBLIC;
