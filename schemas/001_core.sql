-- sentinel-ingest core schema (DESIGN section 3): the event tables, spend roll-up, Kafka offsets,
-- rejects, the append-only guard, on-demand month partitions, and least-privilege roles.
--
-- Applied once, inside the migrator's transaction (see sinks/migrator.cpp), which has already
-- created schema_migrations. Every object lives in schema public and is named with its schema.
-- When the connecting role may not create roles, everything still works, owned by that role;
-- schemas/README.md says what a DBA runs by hand then.

-- Roles -----------------------------------------------------------------------------------------
-- Roles are cluster-wide: another database's migration may be creating them right now, so a
-- duplicate is not an error.
DO $roles$
DECLARE
  me pg_roles%ROWTYPE;
BEGIN
  SELECT * INTO me FROM pg_catalog.pg_roles WHERE rolname = current_user;
  IF NOT (me.rolsuper OR me.rolcreaterole) THEN
    RAISE NOTICE 'sentinel-ingest: % may not create roles; schema objects stay owned by %',
      current_user, current_user;
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sentinel_owner') THEN
    BEGIN
      CREATE ROLE sentinel_owner NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sentinel_ingest') THEN
    BEGIN
      CREATE ROLE sentinel_ingest NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  -- A CREATEROLE (non-superuser) migrator must be a member of the owner role to hand objects
  -- to it (ALTER ... OWNER TO).
  IF NOT me.rolsuper
     AND EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sentinel_owner') THEN
    IF NOT pg_catalog.pg_has_role(current_user, 'sentinel_owner', 'MEMBER') THEN
      BEGIN
        GRANT sentinel_owner TO CURRENT_USER;
      EXCEPTION WHEN duplicate_object OR unique_violation OR insufficient_privilege THEN NULL;
      END;
    END IF;
  END IF;
END
$roles$;

-- The owner role creates partitions through the SECURITY DEFINER function below, so it needs
-- CREATE on the schema. Only the schema's owner (in PostgreSQL 15: the database owner) or a
-- superuser may grant it.
DO $schema$
BEGIN
  IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sentinel_owner')
     AND pg_catalog.pg_has_role(current_user,
                                (SELECT nspowner FROM pg_catalog.pg_namespace
                                 WHERE nspname = 'public'), 'USAGE') THEN
    GRANT USAGE, CREATE ON SCHEMA public TO sentinel_owner;
  END IF;
  IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sentinel_ingest')
     AND pg_catalog.pg_has_role(current_user,
                                (SELECT nspowner FROM pg_catalog.pg_namespace
                                 WHERE nspname = 'public'), 'USAGE') THEN
    GRANT USAGE ON SCHEMA public TO sentinel_ingest;
  END IF;
END
$schema$;

-- Event tables: month partitions by ts (UTC), no default partition -------------------------------
CREATE TABLE public.audit_logs (
  event_id        uuid        NOT NULL,
  ts              timestamptz NOT NULL,
  tenant_id       text        NOT NULL,
  actor_id        text,
  actor_type      text        CHECK (actor_type IN ('user', 'service', 'system')),
  action          text        NOT NULL,
  resource        text,
  outcome         text        NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
  source_ip       inet,
  user_agent      text,
  session_id      uuid,
  metadata        jsonb,
  -- Lineage: where in Kafka the row came from.
  kafka_partition int         NOT NULL,
  kafka_offset    bigint      NOT NULL
) PARTITION BY RANGE (ts);
CREATE INDEX audit_logs_tenant_id_ts_idx ON public.audit_logs (tenant_id, ts);
CREATE INDEX audit_logs_ts_brin ON public.audit_logs USING brin (ts);

CREATE TABLE public.invocations (
  invocation_id     uuid          NOT NULL,
  ts                timestamptz   NOT NULL,
  tenant_id         text          NOT NULL,
  user_id           text,
  session_id        uuid,
  provider          text          NOT NULL,
  model             text          NOT NULL,
  prompt_tokens     int           NOT NULL CHECK (prompt_tokens >= 0),
  completion_tokens int           NOT NULL CHECK (completion_tokens >= 0),
  latency_ms        int           CHECK (latency_ms >= 0),
  status            text          NOT NULL
                    CHECK (status IN ('ok', 'error', 'timeout', 'cancelled')),
  cost_usd          numeric(20,9) NOT NULL CHECK (cost_usd >= 0),
  error_code        text,
  metadata          jsonb,
  -- Lineage: where in Kafka the row came from.
  kafka_partition   int           NOT NULL,
  kafka_offset      bigint        NOT NULL
) PARTITION BY RANGE (ts);
CREATE INDEX invocations_tenant_id_ts_idx ON public.invocations (tenant_id, ts);
CREATE INDEX invocations_ts_brin ON public.invocations USING brin (ts);

-- Spend per tenant and UTC day / month; upserted by the writers --------------------------------
-- Rows are updated in place all the time: leave room on each page for HOT updates.
CREATE TABLE public.costs (
  tenant_id         text          NOT NULL,
  period            text          NOT NULL CHECK (period IN ('day', 'month')),
  period_start      date          NOT NULL,
  cost_usd          numeric(20,9) NOT NULL DEFAULT 0,
  invocations       bigint        NOT NULL DEFAULT 0,
  prompt_tokens     bigint        NOT NULL DEFAULT 0,
  completion_tokens bigint        NOT NULL DEFAULT 0,
  updated_at        timestamptz   NOT NULL DEFAULT pg_catalog.now(),
  PRIMARY KEY (tenant_id, period, period_start),
  CONSTRAINT costs_month_starts_on_the_first
    CHECK (period = 'day' OR extract(day FROM period_start) = 1)
) WITH (fillfactor = 80);

-- Kafka offsets, stored in the same transaction as the rows they produced (DESIGN section 4) ----------
CREATE TABLE public.ingest_offsets (
  consumer_group  text        NOT NULL,
  topic           text        NOT NULL,
  kafka_partition int         NOT NULL,
  next_offset     bigint      NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
  PRIMARY KEY (consumer_group, topic, kafka_partition)
) WITH (fillfactor = 50);

-- Messages that did not become rows, with why ---------------------------------------------------
CREATE TABLE public.ingest_rejects (
  id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  rejected_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
  topic           text        NOT NULL,
  kafka_partition int         NOT NULL,
  kafka_offset    bigint      NOT NULL,
  reason          text        NOT NULL,
  detail          text        NOT NULL,
  payload         bytea
);

-- Append-only guard -----------------------------------------------------------------------------
-- Row-level BEFORE UPDATE/DELETE triggers on a partitioned table are cloned to every partition,
-- whoever creates it. Statement-level triggers are not cloned: sentinel_ensure_month_partition
-- adds one to each partition it creates (TRUNCATE has no row-level form). The statement-level
-- ones also refuse an UPDATE or DELETE that matches no row.
CREATE FUNCTION public.sentinel_forbid_modification() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $fn$
BEGIN
  RAISE EXCEPTION '% is append-only: % is not allowed; retention drops whole month partitions',
    TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'To remove old data, detach and drop its month partitions as the table owner.';
END
$fn$;

CREATE TRIGGER audit_logs_append_only_rows BEFORE UPDATE OR DELETE ON public.audit_logs
  FOR EACH ROW EXECUTE FUNCTION public.sentinel_forbid_modification();
CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON public.audit_logs
  FOR EACH STATEMENT EXECUTE FUNCTION public.sentinel_forbid_modification();
CREATE TRIGGER invocations_append_only_rows BEFORE UPDATE OR DELETE ON public.invocations
  FOR EACH ROW EXECUTE FUNCTION public.sentinel_forbid_modification();
CREATE TRIGGER invocations_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON public.invocations
  FOR EACH STATEMENT EXECUTE FUNCTION public.sentinel_forbid_modification();

-- Month partitions, created ahead of time and on demand ----------------------------------------
-- Runs as its owner (sentinel_owner when it exists) so that the ingest role can create the
-- partition it needs without owning anything. Safe to call from many connections at once: the
-- callers for one partition queue on an advisory lock and all but the first find it there.
CREATE FUNCTION public.sentinel_ensure_month_partition(parent text, month_start date)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $fn$
DECLARE
  partition_name text;
  partition_oid  oid;
  attached_to    oid;
BEGIN
  IF parent IS NULL OR parent NOT IN ('audit_logs', 'invocations') THEN
    RAISE EXCEPTION 'sentinel_ensure_month_partition: parent must be audit_logs or invocations, not %',
      coalesce(quote_literal(parent), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF month_start IS NULL OR extract(day FROM month_start) <> 1
     OR extract(year FROM month_start) NOT BETWEEN 1000 AND 9999 THEN
    RAISE EXCEPTION 'sentinel_ensure_month_partition: month_start must be the first day of a month (years 1000-9999), not %',
      coalesce(month_start::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  partition_name := parent || '_' || to_char(month_start, 'YYYY_MM');
  PERFORM pg_advisory_xact_lock(hashtextextended('sentinel_ensure_month_partition:' || partition_name, 0));

  SELECT c.oid INTO partition_oid
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relname = partition_name;
  IF partition_oid IS NOT NULL THEN
    SELECT i.inhparent INTO attached_to FROM pg_inherits i WHERE i.inhrelid = partition_oid;
    IF attached_to IS DISTINCT FROM format('public.%I', parent)::regclass::oid THEN
      RAISE EXCEPTION 'relation % exists but is not a partition of %', partition_name, parent
        USING ERRCODE = 'duplicate_table',
              HINT = 'attach it (ALTER TABLE ... ATTACH PARTITION) or drop it';
    END IF;
    RETURN partition_name;
  END IF;

  -- Bounds are UTC midnights, whatever the session's TimeZone.
  EXECUTE format(
    'CREATE TABLE public.%I PARTITION OF public.%I'
    ' FOR VALUES FROM (%L::timestamp AT TIME ZONE ''UTC'') TO (%L::timestamp AT TIME ZONE ''UTC'')',
    partition_name, parent,
    to_char(month_start, 'YYYY-MM-DD'),
    to_char((month_start + interval '1 month')::date, 'YYYY-MM-DD'));
  EXECUTE format(
    'CREATE TRIGGER %I BEFORE UPDATE OR DELETE OR TRUNCATE ON public.%I'
    ' FOR EACH STATEMENT EXECUTE FUNCTION public.sentinel_forbid_modification()',
    partition_name || '_append_only', partition_name);
  RETURN partition_name;
END
$fn$;
REVOKE ALL ON FUNCTION public.sentinel_ensure_month_partition(text, date) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.sentinel_forbid_modification() FROM PUBLIC;

-- Ownership and grants --------------------------------------------------------------------------
-- A procedure so that a DBA who creates the roles after this migration ran can hand everything
-- over in one call (schemas/README.md). Hands to sentinel_owner only when the caller may (is a
-- member, and the role can create in schema public); grants to sentinel_ingest when it exists.
CREATE PROCEDURE public.sentinel_apply_roles()
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $fn$
DECLARE
  rel regclass;
  owner_usable  boolean;
  ingest_exists boolean;
BEGIN
  owner_usable := false;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'sentinel_owner') THEN
    owner_usable := pg_has_role(current_user, 'sentinel_owner', 'MEMBER')
      AND has_schema_privilege('sentinel_owner', 'public', 'CREATE');
  END IF;
  ingest_exists := EXISTS (SELECT FROM pg_roles WHERE rolname = 'sentinel_ingest');

  IF owner_usable THEN
    FOR rel IN
      SELECT c.oid::regclass FROM pg_class c
      WHERE c.relnamespace = 'public'::regnamespace
        AND (c.relname IN ('audit_logs', 'invocations', 'costs', 'ingest_offsets',
                           'ingest_rejects', 'schema_migrations')
             OR c.oid IN (SELECT i.inhrelid FROM pg_inherits i
                          WHERE i.inhparent IN ('public.audit_logs'::regclass,
                                                'public.invocations'::regclass)))
    LOOP
      EXECUTE format('ALTER TABLE %s OWNER TO sentinel_owner', rel);
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
REVOKE ALL ON PROCEDURE public.sentinel_apply_roles() FROM PUBLIC;

CALL public.sentinel_apply_roles();
