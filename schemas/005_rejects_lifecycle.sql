-- The rejects lifecycle (docs/architecture.md §10): ingest_rejects partitioned by UTC month of
-- rejected_at, so that `rejects purge` drops whole partitions, with each reject's replay state.
-- Applied like every migration, in the migrator's transaction. Existing rejects are kept, with
-- their ids: the old table is renamed, its rows copied into the month partitions, then dropped.

-- The old table and what is named after it, out of the way ---------------------------------------
ALTER TABLE public.ingest_rejects RENAME TO ingest_rejects_before_005;
ALTER INDEX public.ingest_rejects_pkey RENAME TO ingest_rejects_before_005_pkey;
ALTER SEQUENCE public.ingest_rejects_id_seq RENAME TO ingest_rejects_before_005_id_seq;

-- Messages that did not become rows, with why, and what replaying them did ------------------------
-- replay_state: NULL while never replayed; 'replayed' once the reject became its row (final);
-- 'invalid' when the last replay found it still invalid (replay_reason and replay_detail say
-- why; a later replay tries it again); 'duplicate' when another reject of the same Kafka message
-- was replayed first (final). replayed_at is when the last replay decided that state, replayed_by
-- which run of `rejects replay` did (host, process and start time).
CREATE TABLE public.ingest_rejects (
  id              bigint      GENERATED ALWAYS AS IDENTITY,
  rejected_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
  topic           text        NOT NULL,
  kafka_partition int         NOT NULL,
  kafka_offset    bigint      NOT NULL,
  reason          text        NOT NULL,
  detail          text        NOT NULL,
  payload         bytea,
  replay_state    text        CHECK (replay_state IN ('replayed', 'invalid', 'duplicate')),
  replayed_at     timestamptz,
  replayed_by     text,
  replay_attempts int         NOT NULL DEFAULT 0,
  replay_reason   text,
  replay_detail   text,
  PRIMARY KEY (id, rejected_at)
) PARTITION BY RANGE (rejected_at);
-- What `rejects replay` reads: the rejects still to replay, in id order.
CREATE INDEX ingest_rejects_pending_idx ON public.ingest_rejects (id)
  WHERE replay_state IS NULL OR replay_state = 'invalid';
-- Where in Kafka a reject came from: replay finds a message replayed under another reject.
CREATE INDEX ingest_rejects_lineage_idx
  ON public.ingest_rejects (topic, kafka_partition, kafka_offset);

-- Month partitions on demand: the event tables as in 004, and now ingest_rejects, whose
-- partitions take no append-only trigger (replay records its state on a reject, purge deletes).
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
     OR NOT (parent IN ('audit_logs', 'invocations', 'ingest_rejects')
             OR EXISTS (SELECT FROM public.sentinel_catalog s WHERE s.table_name = parent)) THEN
    RAISE EXCEPTION 'sentinel_ensure_month_partition: parent must be an event table (audit_logs, invocations or a table of sentinel_catalog) or ingest_rejects, not %',
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

  -- Bounds are UTC midnights, whatever the session's TimeZone.
  EXECUTE pg_catalog.format(
    'CREATE TABLE public.%I PARTITION OF public.%I'
    ' FOR VALUES FROM (%L::pg_catalog.timestamp AT TIME ZONE ''UTC'')'
    ' TO (%L::pg_catalog.timestamp AT TIME ZONE ''UTC'')',
    partition_name, parent,
    pg_catalog.to_char(month_start, 'YYYY-MM-DD'),
    pg_catalog.to_char((month_start + '1 month'::pg_catalog.interval)::pg_catalog.date,
                       'YYYY-MM-DD'));
  IF parent <> 'ingest_rejects' THEN
    EXECUTE pg_catalog.format(
      'CREATE TRIGGER %I BEFORE UPDATE OR DELETE OR TRUNCATE ON public.%I'
      ' FOR EACH STATEMENT EXECUTE FUNCTION public.sentinel_forbid_modification()',
      partition_name || '_append_only', partition_name);
  END IF;
  RETURN partition_name;
END
$fn$;

-- Ownership and grants (see 004), now with ingest_rejects' partitions. The ingest role reads the
-- rejects and records a replay's outcome in the replay columns only (`rejects replay` runs as
-- it); it cannot delete them (`rejects purge` runs as the owner).
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
                                                'public.invocations'::pg_catalog.regclass,
                                                'public.ingest_rejects'::pg_catalog.regclass)))
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
    GRANT INSERT ON public.audit_logs, public.invocations TO sentinel_ingest;
    GRANT SELECT, INSERT ON public.ingest_rejects TO sentinel_ingest;
    GRANT UPDATE (replay_state, replayed_at, replayed_by, replay_attempts, replay_reason,
                  replay_detail)
      ON public.ingest_rejects TO sentinel_ingest;
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

-- The existing rejects, with their ids, into their months (and this month and the next two, so
-- that the writers start with the partitions they need). After the grants: the partitions are
-- made by sentinel_ensure_month_partition, which runs as the owner of the new table. ------------
SELECT public.sentinel_ensure_month_partition('ingest_rejects', m::date)
FROM (SELECT DISTINCT pg_catalog.date_trunc('month', rejected_at AT TIME ZONE 'UTC') AS m
      FROM public.ingest_rejects_before_005
      UNION
      SELECT pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC')
             + n * '1 month'::pg_catalog.interval
      FROM pg_catalog.generate_series(0, 2) n) months;

INSERT INTO public.ingest_rejects
  (id, rejected_at, topic, kafka_partition, kafka_offset, reason, detail, payload)
  OVERRIDING SYSTEM VALUE
SELECT id, rejected_at, topic, kafka_partition, kafka_offset, reason, detail, payload
FROM public.ingest_rejects_before_005;

SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('public.ingest_rejects', 'id'),
                         max(id))
FROM public.ingest_rejects_before_005 HAVING max(id) IS NOT NULL;

DROP TABLE public.ingest_rejects_before_005;
