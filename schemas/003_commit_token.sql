-- Commit tokens (docs/architecture.md §4): every writer transaction stores a token unique to that attempt
-- with the offsets it moves. When a COMMIT's reply is lost (the connection dropped while it ran),
-- the writer looks for its token before retrying: present, the commit landed and the batch is
-- counted once; absent (it did not land, or a failover lost it), the batch is written again and
-- the compare-and-set of next_offset decides. NULL for offsets stored before this migration.
ALTER TABLE public.ingest_offsets ADD COLUMN commit_token text;
