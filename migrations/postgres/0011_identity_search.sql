-- the identities page's search: trigram indexes over names, emails and ids, so that ILIKE
-- '%payments%' reads an index instead of every identity.
create extension if not exists pg_trgm;
create index identity_search_name on identity using gin (display_name gin_trgm_ops);
create index identity_search_email on identity using gin (email gin_trgm_ops);
create index identity_search_external_id on identity using gin (external_id gin_trgm_ops);
