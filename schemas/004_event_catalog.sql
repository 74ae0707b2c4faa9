-- The event catalog (schemas/README.md): event types are data. Applied like every migration, in the
-- migrator's transaction; the catalog's own tables (one per type beyond the built-in ones, and
-- their rollups) are then created by `migrate` from the catalog (sinks/catalog_schema.cpp), in
-- the same transaction, and recorded here.

-- The built-in types keep the top-level fields no property reads (unknown_fields: keep), as one
-- jsonb value per row. NULL for rows stored before, and for events without such fields.
ALTER TABLE public.audit_logs ADD COLUMN extra jsonb;
ALTER TABLE public.invocations ADD COLUMN extra jsonb;

-- What catalog `migrate` applied: one row per event type, with the effective schema document it
-- applied and its sha256. `run` compares it with its own catalog and refuses a mismatch;
-- `migrate` compares it to find renamed columns. rollup_tables lists the type's rollup tables
-- (ownership and grants below).
CREATE TABLE public.sentinel_catalog (
  type_name     text        PRIMARY KEY,
  table_name    text        NOT NULL UNIQUE,
  rollup_tables text[]      NOT NULL DEFAULT '{}',
  checksum      text        NOT NULL,
  document      text        NOT NULL,
  applied_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- Month partitions on demand (see 001 and 002), for every registered event table: the two
-- built-in ones, and every table of sentinel_catalog. Anything else is still refused, so the
-- ingest role can never make a partition of a table it should not touch (it may not write
-- sentinel_catalog). Same signature, owner, grants, search_path pin and advisory lock as before.
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
  IF parent IS NULL
     OR NOT (parent IN ('audit_logs', 'invocations')
             OR EXISTS (SELECT FROM public.sentinel_catalog s WHERE s.table_name = parent)) THEN
    RAISE EXCEPTION 'sentinel_ensure_month_partition: parent must be an event table (audit_logs, invocations or a table of sentinel_catalog), not %',
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

-- Ownership and grants (see 001 and 002), now also for the catalog's tables: every event table of
-- sentinel_catalog and its partitions as audit_logs, every rollup table as costs. `migrate` calls
-- it after creating them; a DBA who creates the roles later calls it once, as before.
CREATE OR REPLACE PROCEDURE public.sentinel_apply_roles()
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  rel pg_catalog.regclass;
  owner_usable  pg_catalog.bool;
  ingest_exists pg_catalog.bool;
  event_tables  pg_catalog.regclass[];
  rollup_tables pg_catalog.regclass[];
BEGIN
  owner_usable := false;
  IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sentinel_owner') THEN
    owner_usable := pg_catalog.pg_has_role(current_user, 'sentinel_owner', 'MEMBER')
      AND pg_catalog.has_schema_privilege('sentinel_owner', 'public', 'CREATE');
  END IF;
  ingest_exists := EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sentinel_ingest');

  -- The catalog's tables that exist (a registered table dropped by hand is skipped).
  SELECT coalesce(pg_catalog.array_agg(c.oid::pg_catalog.regclass), '{}') INTO event_tables
  FROM public.sentinel_catalog s JOIN pg_catalog.pg_class c
    ON c.relname = s.table_name AND c.relnamespace = 'public'::pg_catalog.regnamespace
  WHERE s.table_name NOT IN ('audit_logs', 'invocations');
  SELECT coalesce(pg_catalog.array_agg(DISTINCT c.oid::pg_catalog.regclass), '{}')
    INTO rollup_tables
  FROM public.sentinel_catalog s CROSS JOIN LATERAL pg_catalog.unnest(s.rollup_tables) r(name)
    JOIN pg_catalog.pg_class c
    ON c.relname = r.name AND c.relnamespace = 'public'::pg_catalog.regnamespace
  WHERE r.name <> 'costs';

  IF owner_usable THEN
    FOR rel IN
      SELECT c.oid::pg_catalog.regclass FROM pg_catalog.pg_class c
      WHERE c.relnamespace = 'public'::pg_catalog.regnamespace
        AND (c.relname IN ('audit_logs', 'invocations', 'costs', 'ingest_offsets',
                           'ingest_rejects', 'schema_migrations', 'sentinel_catalog')
             OR c.oid = ANY (event_tables) OR c.oid = ANY (rollup_tables)
             OR c.oid IN (SELECT i.inhrelid FROM pg_catalog.pg_inherits i
                          WHERE i.inhparent = ANY (event_tables)
                             OR i.inhparent IN ('public.audit_logs'::pg_catalog.regclass,
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
    GRANT SELECT ON public.schema_migrations, public.sentinel_catalog TO sentinel_ingest;
    GRANT EXECUTE ON FUNCTION public.sentinel_ensure_month_partition(text, date) TO sentinel_ingest;
    FOREACH rel IN ARRAY event_tables LOOP
      EXECUTE pg_catalog.format('GRANT INSERT ON %s TO sentinel_ingest', rel);
    END LOOP;
    FOREACH rel IN ARRAY rollup_tables LOOP
      EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE ON %s TO sentinel_ingest', rel);
    END LOOP;
  ELSE
    RAISE NOTICE 'sentinel-ingest: role sentinel_ingest missing; no grants made';
  END IF;
END
$fn$;

REVOKE ALL ON FUNCTION public.sentinel_ensure_month_partition(text, date) FROM PUBLIC;
REVOKE ALL ON PROCEDURE public.sentinel_apply_roles() FROM PUBLIC;

CALL public.sentinel_apply_roles();
